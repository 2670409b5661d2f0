# The antrea-migrate-agent image (it also carries the kubectl plugin: one distribution, two entry points).
#
#   docker build -t IMAGE .        then: kubectl antrea-migrate agent install --image IMAGE
#
# The agent drives netlink (pyroute2), both netfilter backends and ipsets on its node: iproute2,
# iptables (which ships iptables-legacy and iptables-nft on Debian), ipset and nft must be present.
FROM python:3.11-slim

RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        iproute2 iptables ipset nftables kmod \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY pyproject.toml README.md ./
COPY kubectl_antrea_migrate ./kubectl_antrea_migrate
COPY node_agent ./node_agent
COPY manifests ./manifests
RUN pip install --no-cache-dir . && rm -rf /src

WORKDIR /
# Documented in manifests/agent.yaml (--listen=0.0.0.0:10361, container port `grpc`).
EXPOSE 10361
ENTRYPOINT ["antrea-migrate-agent"]
CMD ["serve", "--help"]
