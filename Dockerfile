# One image for every claimflow process; the command picks the worker.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY claimflow ./claimflow
COPY contracts ./contracts
COPY workers ./workers
# The runtime only: devtools/ (the development broker, sample data, the demo) is not copied
# and not part of the package.
RUN pip install --no-cache-dir .
# A service user of its own, never root; its home holds the runtime files (and the SQLite
# database when CLAIMFLOW_DATABASE_URL is unset).
ENV CLAIMFLOW_HOME=/var/lib/claimflow
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/claimflow --create-home \
        --shell /usr/sbin/nologin claimflow \
    && chmod 0750 /var/lib/claimflow
USER 10001:10001
WORKDIR /var/lib/claimflow
ENTRYPOINT ["claimflow"]
