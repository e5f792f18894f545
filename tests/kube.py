"""A real single-node Kubernetes for the tests (scripts/k8s/cluster.sh; docs/contributing.md, "A Kubernetes
cluster"), started once per session by the ``k8s_cluster`` fixture of conftest and stopped with it.

The cluster has no dynamic volume provisioner: ``Cluster.local_volumes`` makes a default StorageClass
(`kubernetes.io/no-provisioner`, bound when the first pod is scheduled) and `local` PersistentVolumes on
this machine, one per run's claim, as an on-premises cluster does. `local` volumes, unlike `hostPath`,
take the pod's fsGroup, which the non-root project image needs to write the shared data volume.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "k8s" / "cluster.sh"
NODE = "localhost"  # the kubelet's --hostname-override
STORAGE_CLASS = "kaf-local"
NODE_POOL = "cloud.google.com/gke-nodepool=highmem"  # the example's resources.huge_machines node selector


@dataclass
class Cluster:
    kubeconfig: Path
    folder: Path

    def kubectl(self, *args: str, input: str | None = None, check: bool = True, timeout: float = 120,
                kubeconfig: Path | None = None) -> subprocess.CompletedProcess:
        result = subprocess.run(["kubectl", *args], input=input, capture_output=True, text=True, timeout=timeout,
                                env={**os.environ, "KUBECONFIG": str(kubeconfig or self.kubeconfig)})
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)}: exit {result.returncode}\n{result.stderr[-3000:]}")
        return result

    def apply(self, manifest: str, *args: str) -> subprocess.CompletedProcess:
        return self.kubectl("apply", "-f", "-", *args, input=manifest)

    def json(self, *args: str) -> dict:
        return json.loads(self.kubectl("get", *args, "-o", "json").stdout)

    def local_volumes(self, count: int, size: str = "2Gi") -> None:
        """The default StorageClass and ``count`` more `local` volumes (each claim takes one for good)."""
        existing = len(self.json("pv")["items"])
        self.apply(f"""apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: {STORAGE_CLASS}
  annotations: {{storageclass.kubernetes.io/is-default-class: "true"}}
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: WaitForFirstConsumer
reclaimPolicy: Retain
""")
        volumes = []
        for index in range(existing, existing + count):
            path = self.folder / "volumes" / f"pv-{index}"
            path.mkdir(parents=True)
            volumes.append({
                "apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": f"kaf-pv-{index}"},
                "spec": {"capacity": {"storage": size}, "accessModes": ["ReadWriteOnce", "ReadWriteMany"],
                         "persistentVolumeReclaimPolicy": "Retain", "storageClassName": STORAGE_CLASS,
                         "local": {"path": str(path)},
                         "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                             {"key": "kubernetes.io/hostname", "operator": "In", "values": [NODE]}]}]}}}})
        self.apply(json.dumps({"apiVersion": "v1", "kind": "List", "items": volumes}))

    def label_node(self, label: str) -> None:
        self.kubectl("label", "node", NODE, label, "--overwrite")

    def token_kubeconfig(self, namespace: str, service_account: str, path: Path) -> Path:
        """A kubeconfig holding a service account's token: what a worker outside the cluster is given."""
        token = self.kubectl("-n", namespace, "create", "token", service_account, "--duration", "4h").stdout.strip()
        from conftest import secret

        secret(token)
        config = json.loads(self.kubectl("config", "view", "--raw", "--minify", "-o", "json").stdout)
        config["users"] = [{"name": service_account, "user": {"token": token}}]
        config["contexts"][0]["context"].update(user=service_account, namespace=namespace)
        path.write_text(json.dumps(config))
        return path

    def pods(self, namespace: str, selector: str = "") -> list[dict]:
        return self.json("pods", "-n", namespace, *(["-l", selector] if selector else []))["items"]

    def stop(self) -> None:
        subprocess.run(["bash", str(SCRIPT), "down"], capture_output=True, text=True, timeout=300)
        shutil.rmtree(self.folder / "volumes", ignore_errors=True)


def why_not_here() -> str | None:
    """What keeps the cluster from running on this machine, or None."""
    if os.geteuid() != 0:
        return "the kubelet and containerd run as root here (run the suite as root)"
    if not (shutil.which("go") or Path("/usr/local/go/bin/go").exists()):
        return "Go is missing: the cluster is built from Go modules (docs/contributing.md)"
    return None


def start_cluster(registry_host: str, folder: Path) -> Cluster:
    """`cluster.sh up` (it builds the binaries first when they are not cached) with the runtime pulling
    from ``registry_host`` over plain http; the volumes under ``folder``."""
    env = {**os.environ, "K8S_REGISTRY": registry_host}
    result = subprocess.run(["bash", str(SCRIPT), "up"], capture_output=True, text=True, timeout=3600, env=env)
    (folder / "cluster-up.log").write_text(result.stderr)
    cluster = Cluster(kubeconfig=Path(result.stdout.strip().splitlines()[-1] if result.stdout.strip() else "-"),
                      folder=folder)
    if result.returncode != 0:
        cluster.stop()
        raise RuntimeError(f"cluster.sh up failed (exit {result.returncode}):\n{result.stderr[-4000:]}")
    return cluster


# --- the example on the cluster: shared by the k8s tier and benchmarks/k8s.py ---------------------------

# The example's base config on a cluster of one node with 2 CPUs (Kedro env "k8s"): the node tagged
# resources.huge_machines asks for less than its 4 CPUs, and the node is labelled as its highmem pool.
CLUSTER_ENV = """\
host: ${airflow_host|http://127.0.0.1:8080}
output: ${dags_folder|dags}
run_config:
  image: ${image_repository|registry.invalid/spaceflights}:${commit_id|latest}
  run_name: ${run_name|spaceflights-k8s}
  namespace: ${namespace|airflow}
  deferrable: ${deferrable|false}
  pod_security: ${pod_security|baseline}
  startup_time: 300
  resources:
    huge_machines:
      requests: {cpu: "1", memory: 1Gi}
      limits: {memory: 2Gi}
"""


def manifest(name: str) -> str:
    """The fenced block after ``<!-- manifest: NAME -->`` in docs/kubernetes.md."""
    text = (ROOT / "docs" / "kubernetes.md").read_text()
    match = re.search(rf"<!-- manifest: {name} -->\n```yaml\n(.*?)```", text, flags=re.S)
    assert match, f"docs/kubernetes.md has no manifest {name!r}"
    return match.group(1)


def same_access_in(namespace: str, level: str) -> str:
    """docs/kubernetes.md's manifest for another namespace and Pod Security level, granted to the same
    worker account (the one in `airflow`)."""
    documents = []
    for doc in yaml.safe_load_all(manifest("kubernetes-access")):
        if doc["kind"] == "Namespace":
            doc["metadata"] = {"name": namespace, "labels": {"pod-security.kubernetes.io/enforce": level}}
        elif doc["kind"] == "ServiceAccount" and doc["metadata"]["name"] == "airflow-worker":
            continue
        else:
            doc["metadata"]["namespace"] = namespace
        documents.append(doc)
    return yaml.safe_dump_all(documents)


def namespace_secrets(cluster: Cluster, namespace: str, registry) -> None:
    """docs/kubernetes.md, item 5: the example's pull secret and its `secrets` entry."""
    cluster.kubectl("-n", namespace, "create", "secret", "docker-registry", "registry-credentials",
                    f"--docker-server={registry.host}", f"--docker-username={registry.username}",
                    f"--docker-password={registry.password}")
    cluster.kubectl("-n", namespace, "create", "secret", "generic", "spaceflights-secrets",
                    "--from-literal=db_url=postgresql://db.invalid/spaceflights")


class PodWatch:
    """Every state the pods of a namespace go through while a run lasts (`kubectl get --watch`): the
    operator deletes each pod when it ends, so the end states are seen only while they happen."""

    # "|"-separated: kubectl aligns tab-separated columns with spaces, and none of these has a "|"
    COLUMNS = ("{.metadata.name}|{.metadata.labels.task_id}|{.status.phase}|{.spec.securityContext.fsGroup}"
               "|{.status.containerStatuses[0].imageID}|{.metadata.creationTimestamp}"
               "|{.status.containerStatuses[0].state.terminated.startedAt}"
               "|{.status.containerStatuses[0].state.terminated.finishedAt}\n")

    def __init__(self, cluster: Cluster, namespace: str):
        self.proc = subprocess.Popen(
            ["kubectl", "get", "pods", "-n", namespace, "--watch", "-o", f"jsonpath={self.COLUMNS}"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            env={**os.environ, "KUBECONFIG": str(cluster.kubeconfig)})
        self.rows: list[list[str]] = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        for line in self.proc.stdout or ():
            self.rows.append(line.rstrip("\n").split("|"))

    def stop(self) -> dict[str, dict]:
        """task_id -> its pod's last phase, fsGroup, image id, creation and container start and end."""
        self.proc.terminate()
        self.proc.wait(10)
        self.thread.join(10)
        pods: dict[str, dict] = {}
        for name, task, phase, fs_group, image_id, created, started, finished in (r for r in self.rows if len(r) == 8):
            pod = pods.setdefault(task, {})
            pod.update(pod=name, phase=phase, fs_group=fs_group, created=created)
            pod.update({k: v for k, v in (("image_id", image_id), ("started", started), ("finished", finished)) if v})
        return pods
