# Stands in for rabbitmq:3-management where no registry serves it: Debian's RabbitMQ 3.10. It
# reads the same conf.d file and definitions as the public image (docker-compose.yml).
ARG BASE
FROM ${BASE}
# The ids of the public image's user, made first so the package keeps them.
RUN groupadd --gid 999 rabbitmq \
  && useradd --uid 999 --gid rabbitmq --home-dir /var/lib/rabbitmq --no-create-home rabbitmq \
  && apt-get update \
  && apt-get install -y --no-install-recommends rabbitmq-server \
  && rm -rf /var/lib/apt/lists/* /var/lib/rabbitmq/mnesia \
  && mkdir -p /etc/rabbitmq/conf.d \
  && chown -R rabbitmq:rabbitmq /var/lib/rabbitmq /var/log/rabbitmq
# Logs to standard output, as the public image does.
ENV RABBITMQ_LOGS=- HOME=/var/lib/rabbitmq
USER rabbitmq
WORKDIR /var/lib/rabbitmq
CMD ["/usr/lib/rabbitmq/bin/rabbitmq-server"]
