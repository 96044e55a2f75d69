# The gov-search API (and the indexer CLI) for real deployments.
# Build: docker build -t gov-search .   Run: see docker-compose.yml
FROM python:3.11-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    HF_HUB_OFFLINE=1

WORKDIR /app

# Dependencies first, so code changes don't reinstall torch.
COPY pyproject.toml README.md ./
RUN mkdir -p govsearch service indexer \
    && touch govsearch/__init__.py service/__init__.py indexer/__init__.py \
    && pip install --upgrade pip \
    && pip install .

# The packages (pyproject's [tool.setuptools.packages.find]) and what they read at run time, under /app:
# the processes run from /app, so /app/govsearch is the one imported and its PROJECT_ROOT is /app.
COPY govsearch/ govsearch/
COPY service/ service/
COPY indexer/ indexer/
COPY mappings/ mappings/
COPY web/ web/
COPY data/sample/ data/sample/
COPY data/synonyms.txt data/synonyms.txt
RUN pip install --no-deps . \
    && useradd --system --create-home --home-dir /home/govsearch govsearch \
    && mkdir -p /app/.cache && chown -R govsearch /app/.cache

USER govsearch
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=5 \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz').status == 200 else 1)"
# `python -m service` (not a bare uvicorn): forwarded headers are believed from TRUSTED_PROXIES only.
ENV API_HOST=0.0.0.0 API_PORT=8000 API_WORKERS=2
CMD ["python", "-m", "service"]
