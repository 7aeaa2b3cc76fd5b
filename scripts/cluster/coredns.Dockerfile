# CoreDNS for the local cluster: the binary built from scripts/cluster/coredns, nothing else.
FROM scratch
COPY coredns /coredns
USER 65532:65532
ENTRYPOINT ["/coredns"]
