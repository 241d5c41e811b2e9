"""gunicorn's settings, read from the working directory by every `gunicorn` command (Dockerfile,
docker-compose.yml). Its access lines about the anonymous-message paths leave out the client's
address, user agent and referer (fairlabel.log_filters.IdentityFreePaths)."""


def post_worker_init(worker) -> None:
    import logging

    from fairlabel.log_filters import IdentityFreePaths

    logging.getLogger("gunicorn.access").addFilter(IdentityFreePaths())
