from claimflow.cli import app

app()
