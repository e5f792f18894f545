"""The Pod Security Standards (kedro_af_ci/policy/pod_security.py): one test per control of each
profile. Each takes a pod inside the restricted profile, breaks exactly that control and expects the
pod refused with the field named; then the nearest allowed value, admitted. Removing a control's
check fails its test. Then the level setting: the config's, raised to the deployment's in CI; checked
outside CI too; and the pods the tool generates with ``restricted``, built by the real operator.
"""

from __future__ import annotations

import copy

import pytest
from conftest import FakeDagRun, FakeTaskInstance, load_dag, make_config, make_graph, render

from kedro_af_ci.config import PodSecurity
from kedro_af_ci.errors import ConfigError
from kedro_af_ci.gitinfo.commit import GitInfo
from kedro_af_ci.plan.build import build_plan
from kedro_af_ci.policy.model import load_policy
from kedro_af_ci.policy.plan_check import check_plan
from kedro_af_ci.policy.pod_security import laid_over, pod_security_problems
from kedro_af_ci.policy.settings import narrow
from kedro_af_ci.render.dag import render_dag

pytestmark = pytest.mark.unit  # the unit tier: no server, no Docker, no Kedro project

GIT = GitInfo("0123456789abcdef0123456789abcdef01234567", "feature/pss")
CONFINED = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
RESTRICTED_POD = {
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"annotations": {"container.apparmor.security.beta.kubernetes.io/base": "runtime/default"}},
    "spec": {
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}, "fsGroup": 0},
        "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "c"}}, {"name": "tmp", "emptyDir": {}}],
        "initContainers": [{"name": "init", "securityContext": dict(CONFINED)}],
        "containers": [{"name": "base", "securityContext": dict(CONFINED), "ports": [{"containerPort": 80}],
                        "livenessProbe": {"httpGet": {"path": "/", "port": 80}}}],
        "ephemeralContainers": [{"name": "debug", "securityContext": dict(CONFINED)}],
    },
}


def pod(**changes) -> dict:
    """The restricted pod with ``changes``: paths (``spec__containers__0__securityContext__x``) to a
    value, or to ``DELETE``."""
    result = copy.deepcopy(RESTRICTED_POD)
    for path, value in changes.items():
        *parents, last = path.split("__")
        node = result
        for part in parents:
            node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
        if value is DELETE:
            del node[last]
        else:
            node[last] = value
    return result


DELETE = object()
BASE = "spec__containers__0__securityContext"
INIT = "spec__initContainers__0__securityContext"
DEBUG = "spec__ephemeralContainers__0__securityContext"
POD = "spec__securityContext"


def refused(candidate: dict, field: str, control: str, *, baseline: bool = True) -> None:
    """Refused for ``control`` alone, naming ``field``: at baseline (a baseline control) or only at
    restricted (a restricted one); never at privileged."""
    if baseline:
        problems = pod_security_problems(candidate, "baseline")
        assert problems and all(f"'s {control} control" in p for p in problems), problems
    else:
        assert pod_security_problems(candidate, "baseline") == []
    problems = pod_security_problems(candidate, "restricted")
    assert any(p.startswith(f"{field} is ") and f"'s {control} control" in p for p in problems), problems
    assert pod_security_problems(candidate, "privileged") == []


def admitted(candidate: dict, level: str = "restricted") -> None:
    assert pod_security_problems(candidate, level) == []


def test_the_example_pod_is_within_restricted():
    admitted(RESTRICTED_POD)


# --- baseline ----------------------------------------------------------------------------------------


def test_host_process():
    refused(pod(**{f"{POD}__windowsOptions": {"hostProcess": True}}),
            "spec.securityContext.windowsOptions.hostProcess", "HostProcess")
    refused(pod(**{f"{DEBUG}__windowsOptions": {"hostProcess": True}}),
            "spec.ephemeralContainers[debug].securityContext.windowsOptions.hostProcess", "HostProcess")
    admitted(pod(**{f"{POD}__windowsOptions": {"hostProcess": False}, f"{BASE}__windowsOptions": {}}))


def test_host_namespaces():
    for flag in ("hostNetwork", "hostPID", "hostIPC"):
        refused(pod(**{f"spec__{flag}": True}), f"spec.{flag}", "Host Namespaces")
        admitted(pod(**{f"spec__{flag}": False}))


def test_privileged_containers():
    refused(pod(**{f"{INIT}__privileged": True}), "spec.initContainers[init].securityContext.privileged",
            "Privileged Containers")
    refused(pod(**{f"{BASE}__privileged": "true"}), "spec.containers[base].securityContext.privileged",
            "Privileged Containers")  # not a boolean: not what the control allows
    admitted(pod(**{f"{INIT}__privileged": False}))


def test_baseline_capabilities():
    candidate = pod(**{f"{BASE}__capabilities": {"drop": ["ALL"], "add": ["SYS_ADMIN"]}})
    problems = pod_security_problems(candidate, "baseline")
    assert problems == ["spec.containers[base].securityContext.capabilities.add is \"SYS_ADMIN\": the baseline Pod "
                        "Security Standard's Capabilities control allows only the default set (AUDIT_WRITE, CHOWN, "
                        "DAC_OVERRIDE, FOWNER, FSETID, KILL, MKNOD, NET_BIND_SERVICE, SETFCAP, SETGID, SETPCAP, "
                        "SETUID, SYS_CHROOT)"]
    refused(pod(**{f"{DEBUG}__capabilities": {"drop": ["ALL"], "add": ["NET_RAW"]}}),
            "spec.ephemeralContainers[debug].securityContext.capabilities.add", "Capabilities")
    admitted(pod(**{f"{BASE}__capabilities": {"add": ["CHOWN", "KILL"]}}), "baseline")


def test_host_path_volumes():
    candidate = pod(spec__volumes=[{"name": "root", "hostPath": {"path": "/"}}])
    assert pod_security_problems(candidate, "baseline") == [
        "spec.volumes[root].hostPath is {\"path\": \"/\"}: the baseline Pod Security Standard's HostPath Volumes "
        "control allows no hostPath volume"]
    refused(candidate, "spec.volumes[root].hostPath", "HostPath Volumes")
    admitted(pod(spec__volumes=[{"name": "root", "emptyDir": {}}]))


def test_host_ports():
    refused(pod(spec__containers__0__ports=[{"containerPort": 80, "hostPort": 8080}]),
            "spec.containers[base].ports[0].hostPort", "Host Ports")
    admitted(pod(spec__containers__0__ports=[{"containerPort": 80, "hostPort": 0}]))


def test_host_probes_and_lifecycle_hooks():
    refused(pod(spec__containers__0__livenessProbe={"httpGet": {"path": "/", "port": 80, "host": "10.0.0.1"}}),
            "spec.containers[base].livenessProbe.httpGet.host", "Host Probes / Lifecycle Hooks")
    refused(pod(spec__containers__0__lifecycle={"preStop": {"tcpSocket": {"port": 22, "host": "node"}}}),
            "spec.containers[base].lifecycle.preStop.tcpSocket.host", "Host Probes / Lifecycle Hooks")
    admitted(pod(spec__containers__0__livenessProbe={"httpGet": {"path": "/", "port": 80, "host": ""}},
                 spec__containers__0__lifecycle={"preStop": {"tcpSocket": {"port": 22}}}))


def test_apparmor():
    annotation = "container.apparmor.security.beta.kubernetes.io/base"
    refused(pod(metadata__annotations={annotation: "unconfined"}), f"metadata.annotations['{annotation}']",
            "AppArmor")
    refused(pod(**{f"{POD}__appArmorProfile": {"type": "Unconfined"}}), "spec.securityContext.appArmorProfile.type",
            "AppArmor")
    refused(pod(**{f"{INIT}__appArmorProfile": {"type": "Unconfined"}}),
            "spec.initContainers[init].securityContext.appArmorProfile.type", "AppArmor")
    admitted(pod(metadata__annotations={annotation: "localhost/k8s-apparmor-example", "other.io/x": "unconfined"},
                 **{f"{POD}__appArmorProfile": {"type": "RuntimeDefault"},
                    f"{INIT}__appArmorProfile": {"type": "Localhost", "localhostProfile": "p"}}))


def test_selinux():
    refused(pod(**{f"{POD}__seLinuxOptions": {"type": "spc_t"}}), "spec.securityContext.seLinuxOptions.type",
            "SELinux")
    refused(pod(**{f"{BASE}__seLinuxOptions": {"user": "system_u"}}),
            "spec.containers[base].securityContext.seLinuxOptions.user", "SELinux")
    refused(pod(**{f"{INIT}__seLinuxOptions": {"role": "system_r"}}),
            "spec.initContainers[init].securityContext.seLinuxOptions.role", "SELinux")
    admitted(pod(**{f"{POD}__seLinuxOptions": {"type": "container_engine_t", "level": "s0:c123,c456"},
                    f"{BASE}__seLinuxOptions": {"type": "container_t", "user": "", "role": ""}}))


def test_proc_mount():
    refused(pod(**{f"{BASE}__procMount": "Unmasked"}), "spec.containers[base].securityContext.procMount",
            "/proc Mount Type")
    admitted(pod(**{f"{BASE}__procMount": "Default"}))


def test_baseline_seccomp():
    refused(pod(**{f"{BASE}__seccompProfile": {"type": "Unconfined"}}),
            "spec.containers[base].securityContext.seccompProfile.type", "Seccomp")
    refused(pod(**{f"{POD}__seccompProfile": {"type": "Unconfined"}}), "spec.securityContext.seccompProfile.type",
            "Seccomp")
    admitted(pod(**{f"{BASE}__seccompProfile": {"type": "Localhost", "localhostProfile": "p.json"}}))


def test_sysctls():
    refused(pod(**{f"{POD}__sysctls": [{"name": "kernel.msgmax", "value": "65536"}]}),
            "spec.securityContext.sysctls[0].name", "Sysctls")
    # 1.37 admits it, 1.34 to 1.36 do not: refused, so the pod runs on each
    refused(pod(**{f"{POD}__sysctls": [{"name": "net.ipv4.tcp_notsent_lowat", "value": "16384"}]}),
            "spec.securityContext.sysctls[0].name", "Sysctls")
    admitted(pod(**{f"{POD}__sysctls": [{"name": "net.ipv4.ip_local_port_range", "value": "1024 65000"},
                                        {"name": "net.ipv4.tcp_rmem", "value": "4096 87380 6291456"}]}))


# --- restricted --------------------------------------------------------------------------------------


def test_volume_types():
    refused(pod(spec__volumes=[{"name": "share", "nfs": {"server": "nfs", "path": "/"}}]), "spec.volumes[share]",
            "Volume Types", baseline=False)
    admitted(pod(spec__volumes=[{"name": name, kind: {}} for name, kind in (
        ("a", "configMap"), ("b", "csi"), ("c", "downwardAPI"), ("d", "emptyDir"), ("e", "ephemeral"),
        ("f", "persistentVolumeClaim"), ("g", "projected"), ("h", "secret"))]))


def test_privilege_escalation():
    refused(pod(**{f"{INIT}__allowPrivilegeEscalation": DELETE}),
            "spec.initContainers[init].securityContext.allowPrivilegeEscalation", "Privilege Escalation",
            baseline=False)
    refused(pod(**{f"{DEBUG}__allowPrivilegeEscalation": True}),
            "spec.ephemeralContainers[debug].securityContext.allowPrivilegeEscalation", "Privilege Escalation",
            baseline=False)
    admitted(pod(**{f"{INIT}__allowPrivilegeEscalation": False}))


def test_running_as_non_root():
    refused(pod(**{f"{POD}__runAsNonRoot": DELETE}), "spec.containers[base].securityContext.runAsNonRoot",
            "Running as Non-root", baseline=False)
    refused(pod(**{f"{BASE}__runAsNonRoot": False}), "spec.containers[base].securityContext.runAsNonRoot",
            "Running as Non-root", baseline=False)
    refused(pod(**{f"{POD}__runAsNonRoot": False}), "spec.securityContext.runAsNonRoot", "Running as Non-root",
            baseline=False)
    admitted(pod(**{f"{POD}__runAsNonRoot": DELETE, f"{BASE}__runAsNonRoot": True, f"{INIT}__runAsNonRoot": True,
                    f"{DEBUG}__runAsNonRoot": True}))


def test_running_as_non_root_user():
    refused(pod(**{f"{POD}__runAsUser": 0}), "spec.securityContext.runAsUser", "Running as Non-root user",
            baseline=False)
    refused(pod(**{f"{INIT}__runAsUser": 0}), "spec.initContainers[init].securityContext.runAsUser",
            "Running as Non-root user", baseline=False)
    refused(pod(**{f"{BASE}__runAsUser": "{{ var.value.uid }}"}), "spec.containers[base].securityContext.runAsUser",
            "Running as Non-root user", baseline=False)  # Jinja: known only at run time
    admitted(pod(**{f"{POD}__runAsUser": 999, f"{INIT}__runAsUser": 1000}))


def test_restricted_seccomp():
    refused(pod(**{f"{POD}__seccompProfile": DELETE}), "spec.containers[base].securityContext.seccompProfile.type",
            "Seccomp", baseline=False)
    every = {f"{kind}__seccompProfile": {"type": "RuntimeDefault"} for kind in (BASE, INIT, DEBUG)}
    admitted(pod(**{f"{POD}__seccompProfile": DELETE}, **every))


def test_restricted_capabilities():
    refused(pod(**{f"{BASE}__capabilities": {"drop": ["NET_RAW"]}}),
            "spec.containers[base].securityContext.capabilities.drop", "Capabilities", baseline=False)
    refused(pod(**{f"{DEBUG}__capabilities": {"drop": ["ALL"], "add": ["CHOWN"]}}),
            "spec.ephemeralContainers[debug].securityContext.capabilities.add", "Capabilities", baseline=False)
    admitted(pod(**{f"{BASE}__capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}}))


# --- the level: the config's, at least the deployment's in CI; checked with or without CI -------------


def test_the_dags_own_contexts_are_laid_over_a_template_leaf_by_leaf():
    template = {"spec": {"securityContext": {"runAsUser": 0}, "containers": [
        {"name": "base", "securityContext": {"capabilities": {"add": ["SYS_ADMIN"]}, "runAsNonRoot": False}},
        {"name": "sidecar"}]}}
    laid = laid_over(template, {"runAsNonRoot": True}, {"capabilities": {"drop": ["ALL"]}})
    assert laid["spec"]["securityContext"] == {"runAsUser": 0, "runAsNonRoot": True}
    assert laid["spec"]["containers"][0]["securityContext"] == {
        "capabilities": {"add": ["SYS_ADMIN"], "drop": ["ALL"]}, "runAsNonRoot": False}
    assert laid["spec"]["containers"][1] == {"name": "sidecar"}
    assert template["spec"]["securityContext"] == {"runAsUser": 0}  # not changed in place


def test_a_branch_may_tighten_the_standard_never_loosen_it(tmp_path):
    loose = make_config(tmp_path / "loose", {"image": "a:1", "pod_security": "privileged"})
    narrowed, notes = narrow(loose, load_policy(""))
    assert narrowed.run_config.pod_security == PodSecurity.BASELINE
    assert notes == ["run_config.pod_security: 'privileged' of airflow-k8s.yaml is not used; the deployment's "
                     "'baseline' is the lowest allowed (deployment.pod_security)"]
    strict = make_config(tmp_path / "strict", {"image": "a:1", "pod_security": "restricted"})
    assert narrow(strict, load_policy(""))[0].run_config.pod_security == PodSecurity.RESTRICTED
    unset = make_config(tmp_path / "unset", {"image": "a:1"})
    narrowed, notes = narrow(unset, load_policy("pod_security: restricted"))
    assert (narrowed.run_config.pod_security, notes) == (PodSecurity.RESTRICTED, [])


TEMPLATE = """kind: Pod
metadata:
  annotations: {container.apparmor.security.beta.kubernetes.io/base: unconfined}
spec:
  securityContext: {seLinuxOptions: {type: spc_t}}
  containers: [{name: base}]
"""


def plan_of(tmp_path, **run_config):
    config = make_config(tmp_path, {"image": "a:1", **run_config,
                                    "kubernetes_pod_templates": {"__default__": {"template": TEMPLATE}}})
    return build_plan(make_graph([("a", ["raw"], [], [])]), config, GIT)


def test_templates_are_checked_outside_ci_too(tmp_path):
    """The CLI on one's own checkout (no deployment): the template is refused before the namespace
    would refuse its pods; ``privileged`` turns the check off."""
    with pytest.raises(ConfigError) as info:
        check_plan(plan_of(tmp_path / "baseline"), None)
    message, key = str(info.value), "run_config.kubernetes_pod_templates.__default__.template"
    assert "2 problem(s) with the pod templates (run_config.pod_security is 'baseline')" in message
    assert f"{key}: metadata.annotations['container.apparmor.security.beta.kubernetes.io/base'] is " \
           "\"unconfined\"" in message
    assert f"{key}: spec.securityContext.seLinuxOptions.type is \"spc_t\"" in message
    check_plan(plan_of(tmp_path / "privileged", pod_security="privileged"), None)


def test_spark_submit_pods_cannot_be_held_to_restricted(tmp_path):
    config = make_config(tmp_path, {"image": "a:1", "pod_security": "restricted", "spark": {"type": "kubernetes"}})
    with pytest.raises(ConfigError) as info:
        build_plan(make_graph([("a", ["raw"], [], [])]), config, GIT)
    assert info.value.key == "run_config.spark.type"
    assert "spark.type kubernetes cannot run under pod_security restricted" in str(info.value)


# --- the pods the tool generates -------------------------------------------------------------------


NODES = [("a", ["raw"], ["x"], []), ("b", ["x"], [], ["k8s_template.confined"])]
CONFINED_TEMPLATE = """kind: Pod
metadata:
  labels: {from-template: "yes"}
spec:
  securityContext: {runAsUser: 1000}
  containers:
    - name: base
      securityContext: {readOnlyRootFilesystem: true}
"""
EVERY_POD = {"image": "a:1", "pod_security": "restricted", "volume": {"owner": 1000},
             "mlflow": {"enabled": True, "tracking_uri": "http://mlflow:5000"},
             "kubernetes_pod_templates": {"confined": {"template": CONFINED_TEMPLATE}}}



@pytest.mark.airflow
def test_restricted_pods_as_the_operator_builds_them(tmp_path):
    """Every pod of a restricted DAG (nodes, a template's, data-volume-init, the MLflow tasks with the
    start task's XCom sidecar), built by the real KubernetesPodOperator, is within restricted."""
    from kubernetes.client import ApiClient

    config = make_config(tmp_path, EVERY_POD, git_info=GIT)
    plan = build_plan(make_graph(NODES), config, GIT, grouping="none")
    check_plan(plan, None)
    dag = load_dag(render_dag(plan).source, plan.dag.dag_id, tmp_path)
    pods = {task.task_id: ApiClient().sanitize_for_serialization(
                render(task, ti=FakeTaskInstance(), dag_run=FakeDagRun()).build_pod_request_obj())
            for task in dag.tasks if task.task_type == "KubernetesPodOperator"}
    assert set(pods) == {"a", "b", "data_volume_init", "start_mlflow_run", "end_mlflow_run"}
    for task_id, built in pods.items():
        assert pod_security_problems(built, "restricted") == [], task_id
        assert built["spec"]["securityContext"]["fsGroup"] == 1000, task_id
    sidecar = pods["start_mlflow_run"]["spec"]["containers"][1]
    assert sidecar["name"] == "airflow-xcom-sidecar" and sidecar["securityContext"]["runAsUser"] == 65534
    assert pods["b"]["metadata"]["labels"]["from-template"] == "yes"  # the template's pod, with our contexts


def test_baseline_dags_are_as_before(tmp_path):
    """The default standard adds nothing to the pods: the fsGroup of the volume as it always was."""
    config = make_config(tmp_path, {"image": "a:1"}, git_info=GIT)
    source = render_dag(build_plan(make_graph(NODES[:1]), config, GIT)).source
    assert '        security_context={"fsGroup": 0},\n' in source
    assert "container_security_context" not in source and "xcom_sidecar_container_security_context" not in source
    restricted = make_config(tmp_path / "r", {"image": "a:1", "pod_security": "restricted"}, git_info=GIT)
    source = render_dag(build_plan(make_graph(NODES[:1]), restricted, GIT)).source
    assert '        security_context={"fsGroup": 0, "runAsNonRoot": True, "seccompProfile": {"type": ' \
           '"RuntimeDefault"}},\n' in source
    assert '        container_security_context={"allowPrivilegeEscalation": False, "capabilities": ' \
           '{"drop": ["ALL"]}},\n' in source
