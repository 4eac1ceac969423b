# Tocsin on its embedded default: SQLite in /data, in-process ingest, no broker.
#   docker build -t tocsin . && docker run -p 8080:8080 -v tocsin-data:/data tocsin
# Point TOCSIN_DATABASE_URL at PostgreSQL (postgresql+psycopg://...) for a shared database.
FROM python:3.11-slim

WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY alembic ./alembic
COPY warning ./warning
COPY detectors ./detectors
COPY ingest ./ingest
COPY api ./api
# Editable install: the migrations in /app/alembic are found next to the packages.
RUN pip install --no-cache-dir -e . \
 && useradd --system --uid 10001 tocsin \
 && mkdir /data && chown tocsin /data

USER tocsin
ENV TOCSIN_DATA_DIR=/data \
    TOCSIN_HOST=0.0.0.0 \
    TOCSIN_PORT=8080
VOLUME /data
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2)"
CMD ["tocsin", "serve"]
