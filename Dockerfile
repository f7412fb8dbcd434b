# One image for every claimflow process; the command picks the worker.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY claimflow ./claimflow
COPY contracts ./contracts
COPY workers ./workers
RUN pip install --no-cache-dir .
USER nobody
ENTRYPOINT ["claimflow"]
