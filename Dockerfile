# sgaudit in a container: `docker build -t sgaudit .` then
#   docker run --rm -e AWS_REGION -e AWS_ACCESS_KEY_ID -e AWS_SECRET_ACCESS_KEY -e AWS_SESSION_TOKEN \
#     -v "$PWD:/work:ro" sgaudit check --policy /work/policy.yaml --regions all
# Every argument goes to `sgaudit`. The Google Cloud and PostgreSQL extras are installed.

# -- build: the wheel and every dependency's wheel, from this checkout ------------------------
FROM python:3.12-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY sgaudit ./sgaudit
COPY reports ./reports
RUN pip wheel --no-cache-dir --disable-pip-version-check --wheel-dir /wheels ".[gcp,postgres]"

# -- run: a slim Python, no compilers, a user without a login and without root ---------------
FROM python:3.12-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/home/sgaudit
RUN useradd --uid 10001 --user-group --create-home --home-dir /home/sgaudit --shell /usr/sbin/nologin sgaudit
COPY --from=build /wheels /wheels
# offline, from the wheels just built (sgaudit and exactly the dependencies of its gcp and
# postgres extras): the image holds this checkout's sgaudit and nothing fetched at run time
RUN pip install --no-cache-dir --disable-pip-version-check --no-index /wheels/*.whl \
    && rm -rf /wheels \
    && sgaudit --version
USER 10001:10001
WORKDIR /home/sgaudit
ENTRYPOINT ["sgaudit"]
CMD ["--help"]
