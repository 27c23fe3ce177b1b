# syntax=docker/dockerfile:1
# Two targets:
#   serve (default): the API and the indexer; CPU torch, serving dependencies only (no quaterion,
#                    no pytorch-lightning). The servable is mounted at /models/servable.
#   train:           adds the training stack (quaterion, pytorch-lightning) for `faq train`.
FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
WORKDIR /srv
# The CPU build of torch comes from PyTorch's index; everything else is pinned in the lock files.
RUN pip install --no-cache-dir --index-url https://download.pytorch.org/whl/cpu torch==2.13.0

FROM base AS serve
COPY requirements-serve.lock ./
RUN pip install --no-cache-dir --no-deps --ignore-requires-python -r requirements-serve.lock
COPY pyproject.toml README.md ./
COPY app ./app
COPY cli ./cli
RUN pip install --no-cache-dir --no-deps --no-build-isolation .
ENV FAQ_SERVABLE=/models/servable FAQ_COLLECTION=faq DEVICE=cpu
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=5 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/ready', timeout=4)"
CMD ["faq", "serve", "--host", "0.0.0.0", "--port", "8000"]

FROM serve AS train
COPY requirements.lock ./
RUN pip install --no-cache-dir --no-deps --ignore-requires-python -r requirements.lock
COPY training ./training
RUN pip install --no-cache-dir --no-deps --no-build-isolation .
CMD ["faq", "train", "--output", "/srv/var/servable"]
