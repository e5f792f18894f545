"""The Kubernetes Pod Security Standards, one function per control, for a pod as data (docs/architecture.md,
"Trust").

A namespace that enforces a standard refuses, at admission, any pod outside it; the tool refuses a pod
template that would be refused, before any DAG is written (``run_config.pod_security``). The controls
and their allowed values are those of kubernetes.io/docs/concepts/security/pod-security-standards and
of the admission controller itself (k8s.io/pod-security-admission) for Kubernetes 1.34 to 1.37: where
the versions differ, the values every one of them admits (the sysctls 1.37 added are not admitted,
nor the relaxations 1.35 made for pods in a user namespace).

Each control reads a pod dict in Kubernetes' own camelCase (``metadata.annotations``, ``spec``, its
``containers``, ``initContainers`` and ``ephemeralContainers``) and returns one problem per field
outside the control, naming the field, its value and what the control allows. A value the YAML
does not give as the control expects (a string for a boolean, Jinja Airflow would render later) is
outside it: only what is written out can be checked before the pod exists.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from ..config.run import PodSecurity

Pod = dict[str, Any]  # a pod, or any part of it, as Kubernetes' own camelCase mapping
Problems = list[str]
Control = Callable[[Pod], Problems]

# Capabilities: what a baseline container may add (the container runtimes' default set)
BASELINE_CAPABILITIES = frozenset({"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
                                   "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"})
# SELinux: the container types (container_engine_t since 1.31)
SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"})
# Sysctls: the safe set of 1.32 to 1.36 (1.37 adds tcp_slow_start_after_idle and tcp_notsent_lowat)
SAFE_SYSCTLS = frozenset({
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range",
    "net.ipv4.ip_unprivileged_port_start", "net.ipv4.ip_local_reserved_ports", "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes",
    "net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"})
CONFINED_PROFILES = ("RuntimeDefault", "Localhost")  # seccomp and AppArmor profile types
APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"
# Volume types: the restricted profile's (inline sources that reach nothing of the node)
RESTRICTED_VOLUMES = frozenset({"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
                                "projected", "secret"})
CONTAINER_KINDS = ("initContainers", "containers", "ephemeralContainers")
UNSET_OR_FALSE = "false or unset"


def problem(field: str, value: Any, level: str, control: str, allowed: str) -> str:
    """One field outside one control, in the words of the standard."""
    shown = "unset" if value is None else json.dumps(value, default=str)
    return f"{field} is {shown}: the {level} Pod Security Standard's {control} control allows {allowed}"


def _dict(value: Any) -> Pod:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def spec_of(pod: Pod) -> Pod:
    return _dict(pod.get("spec"))


def containers(pod: Pod) -> Iterator[tuple[str, Pod]]:
    """Every container of the pod with its field path (``spec.containers[base]``): the controls
    hold for init and ephemeral containers as for the others."""
    for kind in CONTAINER_KINDS:
        for index, container in enumerate(_list(spec_of(pod).get(kind))):
            if isinstance(container, dict):
                yield f"spec.{kind}[{container.get('name', index)}]", container


def security_contexts(pod: Pod) -> Iterator[tuple[str, Pod]]:
    """The pod's security context and each container's, with their paths (the pod-level fields a
    container also has are checked at both levels)."""
    yield "spec.securityContext", _dict(spec_of(pod).get("securityContext"))
    for path, container in containers(pod):
        yield f"{path}.securityContext", _dict(container.get("securityContext"))


def container_contexts(pod: Pod) -> Iterator[tuple[str, Pod]]:
    """Each container's security context alone (fields a pod-level context does not have)."""
    for path, container in containers(pod):
        yield f"{path}.securityContext", _dict(container.get("securityContext"))


# --- baseline: no known privilege escalation -------------------------------------------------------


def host_process(pod: Pod) -> Problems:
    """HostProcess: a Windows HostProcess container runs on the node itself, as its administrator."""
    return [problem(f"{path}.windowsOptions.hostProcess", value, "baseline", "HostProcess", UNSET_OR_FALSE)
            for path, context in security_contexts(pod)
            if (value := _dict(context.get("windowsOptions")).get("hostProcess")) not in (None, False)]


def host_namespaces(pod: Pod) -> Problems:
    """Host Namespaces: the node's network, processes or IPC would be the pod's own."""
    spec = spec_of(pod)
    return [problem(f"spec.{flag}", spec[flag], "baseline", "Host Namespaces", UNSET_OR_FALSE)
            for flag in ("hostNetwork", "hostPID", "hostIPC") if spec.get(flag) not in (None, False)]


def privileged_containers(pod: Pod) -> Problems:
    """Privileged Containers: a privileged container has every device and capability of the node."""
    return [problem(f"{path}.privileged", value, "baseline", "Privileged Containers", UNSET_OR_FALSE)
            for path, context in container_contexts(pod) if (value := context.get("privileged")) not in (None, False)]


def baseline_capabilities(pod: Pod) -> Problems:
    """Capabilities: beyond the runtime's default set, a capability (SYS_ADMIN…) reaches the kernel."""
    found = []
    for path, context in container_contexts(pod):
        for name in _list(_dict(context.get("capabilities")).get("add")):
            if name not in BASELINE_CAPABILITIES:
                found.append(problem(f"{path}.capabilities.add", name, "baseline", "Capabilities",
                                     "only the default set (" + ", ".join(sorted(BASELINE_CAPABILITIES)) + ")"))
    return found


def host_path_volumes(pod: Pod) -> Problems:
    """HostPath Volumes: a host path mounts the node's own files into the pod."""
    return [problem(f"spec.volumes[{volume.get('name')}].hostPath", volume["hostPath"], "baseline",
                    "HostPath Volumes", "no hostPath volume")
            for volume in _list(spec_of(pod).get("volumes")) if isinstance(volume, dict) and "hostPath" in volume]


def host_ports(pod: Pod) -> Problems:
    """Host Ports: a host port listens on the node's own address."""
    return [problem(f"{path}.ports[{index}].hostPort", port["hostPort"], "baseline", "Host Ports", "0 or unset")
            for path, container in containers(pod) for index, port in enumerate(_list(container.get("ports")))
            if isinstance(port, dict) and port.get("hostPort") not in (None, 0)]


def host_probes(pod: Pod) -> Problems:
    """Host Probes / Lifecycle Hooks (1.34): a probe or hook with a host makes the kubelet connect
    to any address for the pod, the node's own included."""
    handlers = ("livenessProbe", "readinessProbe", "startupProbe", "lifecycle.postStart", "lifecycle.preStop")
    found = []
    for path, container in containers(pod):
        for handler in handlers:
            node = container
            for part in handler.split("."):
                node = _dict(node.get(part))
            found += [problem(f"{path}.{handler}.{action}.host", host, "baseline", "Host Probes / Lifecycle Hooks",
                              "\"\" or unset") for action in ("httpGet", "tcpSocket")
                      if (host := _dict(node.get(action)).get("host")) not in (None, "")]
    return found


def apparmor(pod: Pod) -> Problems:
    """AppArmor: ``unconfined`` (annotation) or ``Unconfined`` (profile) lifts the runtime's AppArmor
    confinement; only the runtime's default or a profile loaded on the node is allowed."""
    annotations = _dict(_dict(pod.get("metadata")).get("annotations"))
    found = [problem(f"metadata.annotations['{key}']", value, "baseline", "AppArmor",
                     "runtime/default, localhost/<profile>, \"\" or unset")
             for key, value in annotations.items() if str(key).startswith(APPARMOR_ANNOTATION)
             and not (value in ("", "runtime/default") or (isinstance(value, str) and value.startswith("localhost/")))]
    found += [problem(f"{path}.appArmorProfile.type", _dict(context["appArmorProfile"]).get("type"), "baseline",
                      "AppArmor", "RuntimeDefault, Localhost or no appArmorProfile")
              for path, context in security_contexts(pod) if context.get("appArmorProfile") is not None
              and _dict(context["appArmorProfile"]).get("type") not in CONFINED_PROFILES]
    return found


def selinux(pod: Pod) -> Problems:
    """SELinux: another type (spc_t…) lifts the container's confinement; a user or role chooses
    the node's own SELinux identities."""
    found = []
    for path, context in security_contexts(pod):
        options = _dict(context.get("seLinuxOptions"))
        if options.get("type") not in (None, *SELINUX_TYPES):
            found.append(problem(f"{path}.seLinuxOptions.type", options["type"], "baseline", "SELinux",
                                 "container_t, container_init_t, container_kvm_t, container_engine_t, \"\" or unset"))
        found += [problem(f"{path}.seLinuxOptions.{key}", options[key], "baseline", "SELinux", "\"\" or unset")
                  for key in ("user", "role") if options.get(key) not in (None, "")]
    return found


def proc_mount(pod: Pod) -> Problems:
    """/proc Mount Type: ``Unmasked`` shows the container the node's /proc without its masks."""
    return [problem(f"{path}.procMount", value, "baseline", "/proc Mount Type", "Default or unset")
            for path, context in container_contexts(pod)
            if (value := context.get("procMount")) not in (None, "Default")]


def baseline_seccomp(pod: Pod) -> Problems:
    """Seccomp: ``Unconfined`` lets the container make any system call."""
    return [problem(f"{path}.seccompProfile.type", _dict(context["seccompProfile"]).get("type"), "baseline",
                    "Seccomp", "RuntimeDefault, Localhost or no seccompProfile")
            for path, context in security_contexts(pod) if context.get("seccompProfile") is not None
            and _dict(context["seccompProfile"]).get("type") not in CONFINED_PROFILES]


def sysctls(pod: Pod) -> Problems:
    """Sysctls: beyond the safe set, a kernel setting is not isolated to the pod."""
    context = _dict(spec_of(pod).get("securityContext"))
    return [problem(f"spec.securityContext.sysctls[{index}].name", name, "baseline", "Sysctls",
                    "only the safe set (" + ", ".join(sorted(SAFE_SYSCTLS)) + ")")
            for index, item in enumerate(_list(context.get("sysctls")))
            if (name := _dict(item).get("name")) not in SAFE_SYSCTLS]


# --- restricted: current hardening practice, on top of baseline ------------------------------------


def volume_types(pod: Pod) -> Problems:
    """Volume Types: only volumes that reach no storage of the node's or the cloud's directly."""
    found = []
    for index, volume in enumerate(_list(spec_of(pod).get("volumes"))):
        kinds = sorted(set(_dict(volume)) - {"name"})
        if not set(kinds) & RESTRICTED_VOLUMES:
            found.append(problem(f"spec.volumes[{_dict(volume).get('name', index)}]", kinds, "restricted",
                                 "Volume Types", "only " + ", ".join(sorted(RESTRICTED_VOLUMES))))
    return found


def privilege_escalation(pod: Pod) -> Problems:
    """Privilege Escalation: set-user-ID programs could give a process more than its parent had."""
    return [problem(f"{path}.allowPrivilegeEscalation", context.get("allowPrivilegeEscalation"), "restricted",
                    "Privilege Escalation", "only false (on every container)")
            for path, context in container_contexts(pod) if context.get("allowPrivilegeEscalation") is not False]


def run_as_non_root(pod: Pod) -> Problems:
    """Running as Non-root: the kubelet refuses to start a container whose user would be root."""
    at_pod = _dict(spec_of(pod).get("securityContext")).get("runAsNonRoot")
    allowed = "true, on the pod or on every container (no container false)"
    found = [] if at_pod in (None, True) else [
        problem("spec.securityContext.runAsNonRoot", at_pod, "restricted", "Running as Non-root", allowed)]
    for path, context in container_contexts(pod):
        value = context.get("runAsNonRoot")
        if value is not True and (value is not None or at_pod is not True):
            found.append(problem(f"{path}.runAsNonRoot", value, "restricted", "Running as Non-root", allowed))
    return found


def run_as_user(pod: Pod) -> Problems:
    """Running as Non-root user: user id 0 is root, whatever the image says."""
    return [problem(f"{path}.runAsUser", value, "restricted", "Running as Non-root user",
                    "a user id other than 0, or unset")
            for path, context in security_contexts(pod) if (value := context.get("runAsUser")) is not None
            and (isinstance(value, bool) or not isinstance(value, int) or value == 0)]


def restricted_seccomp(pod: Pod) -> Problems:
    """Seccomp: a profile must be set, the runtime's default or one on the node (baseline's check
    refuses the other types)."""
    at_pod = _dict(_dict(spec_of(pod).get("securityContext")).get("seccompProfile")).get("type")
    if at_pod in CONFINED_PROFILES:
        return []
    return [problem(f"{path}.seccompProfile.type", None, "restricted", "Seccomp",
                    "RuntimeDefault or Localhost, on the pod or on every container")
            for path, context in container_contexts(pod) if context.get("seccompProfile") is None]


def restricted_capabilities(pod: Pod) -> Problems:
    """Capabilities: every capability dropped, NET_BIND_SERVICE alone added back."""
    found = []
    for path, context in container_contexts(pod):
        capabilities = _dict(context.get("capabilities"))
        if "ALL" not in _list(capabilities.get("drop")):
            found.append(problem(f"{path}.capabilities.drop", capabilities.get("drop"), "restricted", "Capabilities",
                                 "a list that holds ALL"))
        found += [problem(f"{path}.capabilities.add", name, "restricted", "Capabilities", "only NET_BIND_SERVICE")
                  for name in _list(capabilities.get("add")) if name != "NET_BIND_SERVICE"]
    return found


BASELINE: tuple[Control, ...] = (host_process, host_namespaces, privileged_containers, baseline_capabilities,
                                 host_path_volumes, host_ports, host_probes, apparmor, selinux, proc_mount,
                                 baseline_seccomp, sysctls)
RESTRICTED: tuple[Control, ...] = (volume_types, privilege_escalation, run_as_non_root, run_as_user,
                                   restricted_seccomp, restricted_capabilities)
CONTROLS: dict[PodSecurity, tuple[Control, ...]] = {
    PodSecurity.PRIVILEGED: (), PodSecurity.BASELINE: BASELINE, PodSecurity.RESTRICTED: BASELINE + RESTRICTED}


def pod_security_problems(pod: Pod, level: PodSecurity | str) -> Problems:
    """Every field of ``pod`` outside the standard ``level`` (none for ``privileged``)."""
    return [found for control in CONTROLS[PodSecurity(level)] for found in control(pod)]


def laid_over(pod: Pod, pod_context: Pod | None, container_context: Pod | None) -> Pod:
    """``pod`` with the security contexts the DAG gives every pod laid over it, leaf by leaf: the pod's
    context, and the first container's (the one the operator merges with its own). Airflow's merge
    replaces the template's context whole; checking what a deep merge would keep is never looser."""
    spec = dict(spec_of(pod))
    if pod_context:
        spec["securityContext"] = _merged(_dict(spec.get("securityContext")), pod_context)
    first = _list(spec.get("containers"))[:1]
    if container_context and first and isinstance(first[0], dict):
        container = {**first[0], "securityContext": _merged(_dict(first[0].get("securityContext")),
                                                              container_context)}
        spec["containers"] = [container, *spec["containers"][1:]]
    return {**pod, "spec": spec}


def _merged(base: Pod, over: Pod) -> Pod:
    merged = dict(base)
    for key, value in over.items():
        merged[key] = _merged(_dict(base.get(key)), value) if isinstance(value, dict) else value
    return merged
