# The service image. BASE_IMAGE must provide python3 with venv and a CA bundle at
# /etc/ssl/certs/ca-certificates.crt (python:3.11-slim does; so does the sandbox's Debian base).
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS builder
# Extra CA certificates (*.crt or *.pem in certs/) for networks that intercept TLS; pip trusts
# them during the build and the service trusts them at run time.
COPY certs/ /tmp/extra-ca/
RUN set -eu; \
    mkdir -p /opt/ca; \
    cp /etc/ssl/certs/ca-certificates.crt /opt/ca/bundle.pem; \
    for cert in /tmp/extra-ca/*.crt /tmp/extra-ca/*.pem; do \
        if [ -f "$cert" ]; then cat "$cert" >> /opt/ca/bundle.pem; fi; \
    done; \
    python3 -m venv /opt/venv
# Dependencies come before the code, so a code change reuses this layer.
COPY requirements/app.txt /tmp/requirements.txt
RUN PIP_CERT=/opt/ca/bundle.pem /opt/venv/bin/pip install --no-cache-dir \
        --disable-pip-version-check --no-compile -r /tmp/requirements.txt

FROM ${BASE_IMAGE}
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin app
COPY --from=builder /opt/ca/bundle.pem /opt/ca/bundle.pem
COPY --from=builder /opt/venv /opt/venv
WORKDIR /srv
COPY app/ /srv/app/
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    SSL_CERT_FILE=/opt/ca/bundle.pem \
    REQUESTS_CA_BUNDLE=/opt/ca/bundle.pem \
    PATH=/opt/venv/bin:$PATH
USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=3 \
    CMD ["/opt/venv/bin/python", "-m", "app.healthcheck"]
# The proxy logs every request; the app would otherwise log a health probe each second.
CMD ["/opt/venv/bin/python", "-m", "uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "8080", "--no-access-log"]

# Identity last: a new version of the same code only rebuilds these metadata layers.
ARG APP_VERSION=dev
ARG GIT_SHA=unknown
ARG BUILD_TIME=unknown
ARG SOURCE_URL=unknown
LABEL org.opencontainers.image.title="agent-dk" \
      org.opencontainers.image.version="${APP_VERSION}" \
      org.opencontainers.image.revision="${GIT_SHA}" \
      org.opencontainers.image.created="${BUILD_TIME}" \
      org.opencontainers.image.source="${SOURCE_URL}"
ENV APP_VERSION=${APP_VERSION} \
    APP_GIT_SHA=${GIT_SHA} \
    APP_BUILD_TIME=${BUILD_TIME}
