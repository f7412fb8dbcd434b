"""What every worker shares: the faust app factory, the batch loop, dead letters, publishing."""
