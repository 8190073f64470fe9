#!/usr/bin/env python3
"""Writes S Services x E endpoints as Kubernetes manifests (one YAML file) and a
node config, for measuring svcnft at scale. Addresses stay inside 198.18.0.0/15:
ClusterIPs from 198.18.128.0/17, endpoints from 198.19.0.0/16 (wrapping past 65,536
endpoints, which only repeats addresses across Services, as shared pods do)."""
import argparse
import ipaddress
import os


class _Keep:
    """The one shared file, kept open across Services."""

    def __init__(self, f):
        self.f = f

    def __enter__(self):
        return self.f

    def __exit__(self, *a):
        return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--services", type=int, required=True)
    ap.add_argument("--endpoints", type=int, default=10)
    ap.add_argument("--nodeports", action="store_true", help="make every 3rd a NodePort")
    ap.add_argument("--out", required=True, help="directory to write into")
    ap.add_argument("--per-service-files", action="store_true",
                    help="one file per Service (svc-I.yaml), as a watched directory would hold")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    vip_base = int(ipaddress.IPv4Address("198.18.128.0"))
    ep_base = int(ipaddress.IPv4Address("198.19.0.0"))
    with open(os.path.join(a.out, "node-config.yaml"), "w") as f:
        f.write("nodeName: node-0\nnodeIPs: [198.18.0.1]\nclusterCIDRs: [198.19.0.0/16]\n"
                "nodePortRange: 1024-65535\n")
    n = 0
    single = None if a.per_service_files else open(os.path.join(a.out, "manifests.yaml"), "w")
    for i in range(a.services):
        with (open(os.path.join(a.out, "svc-%d.yaml" % i), "w") if single is None else _Keep(single)) as f:
            vip = ipaddress.IPv4Address(vip_base + i)
            nodeport = a.nodeports and i % 3 == 0
            f.write("apiVersion: v1\nkind: Service\nmetadata:\n  name: svc-%d\n  namespace: bench\n"
                    "spec:\n  type: %s\n  clusterIP: %s\n  ports:\n  - name: http\n    port: 80\n"
                    "    targetPort: 8080\n" % (i, "NodePort" if nodeport else "ClusterIP", vip))
            if nodeport:
                f.write("    nodePort: %d\n" % (2000 + i))
            f.write("---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n"
                    "  name: svc-%d-x\n  namespace: bench\n  labels:\n"
                    "    kubernetes.io/service-name: svc-%d\naddressType: IPv4\nports:\n"
                    "- name: http\n  port: 8080\nendpoints:\n" % (i, i))
            for e in range(a.endpoints):
                addr = ipaddress.IPv4Address(ep_base + n % 65536)
                n += 1
                f.write("- addresses: [\"%s\"]\n  conditions: {ready: true}\n  nodeName: node-%d\n"
                        % (addr, e % 3))
            f.write("---\n")
    if single is not None:
        single.close()


if __name__ == "__main__":
    main()
