# The Consentry service (docs/service.md). Build: docker build -t consentry .
# Models ship in the package or are installed here; nothing is downloaded at run time.
# Bank indexes and the spool live under /var/lib/consentry (XDG_DATA_HOME), a volume.
FROM python:3.11-slim-bookworm

# faces: the likeness registry and the manipulation signal's face finder; ui + report: the review
# pages and their evidence reports. nudity (NudeNet, AGPL-3.0) is left out: add it deliberately.
ARG EXTRAS=service,faces,detector,provenance,ui,report
ENV PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    ORT_DISABLE_TELEMETRY=1 XDG_DATA_HOME=/var/lib/consentry

RUN apt-get update \
    && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /var/lib/consentry --create-home consentry

WORKDIR /opt/consentry
COPY pyproject.toml README.md ./
COPY consentry ./consentry
RUN pip install ".[${EXTRAS}]" && python -m compileall -q consentry

USER consentry
VOLUME ["/var/lib/consentry"]
EXPOSE 5100
# CONSENTRY_DB is set by the deployment (compose.yaml: PostgreSQL). The container listens on
# all of its interfaces so that the published port reaches it; publish it on 127.0.0.1 only
# and put a TLS proxy in front.
CMD ["consentry", "serve", "--host", "0.0.0.0", "--port", "5100", "--spool", "/var/lib/consentry/spool"]
