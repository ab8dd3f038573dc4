# One image for every eventyard process (ingest, worker); the command picks the part.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY eventyard eventyard
COPY ingest ingest
COPY streams streams
COPY transforms transforms
COPY destinations destinations
RUN pip install --no-cache-dir .
COPY examples examples
ENTRYPOINT ["eventyard"]
