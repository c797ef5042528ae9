# Sourced by the image builds: Podman with its own configuration and storage under
# $cache (set by the caller), so /etc/containers stays as it is and other users of Podman on the
# machine are not affected. runc, because crun refuses hybrid cgroup v1 hierarchies; cgroupfs
# (no systemd); nofile/nproc limits no higher than the current ones, since raising an rlimit
# needs CAP_SYS_RESOURCE. Builds run with --network=none: Podman then creates no bridge and no
# iptables rule.
export CONTAINERS_CONF="$cache/containers.conf" CONTAINERS_STORAGE_CONF="$cache/storage.conf"
# Lowering a limit is always allowed; runc fails to set nproc even to its current value here.
podman_nofile=$(ulimit -Hn); podman_nproc=4096
[ "$podman_nofile" = unlimited ] && podman_nofile=1048576
[ "$podman_nofile" -gt 20000 ] && podman_nofile=20000
cat >"$CONTAINERS_CONF.tmp.$$" <<EOC
[containers]
default_ulimits = ["nofile=$podman_nofile:$podman_nofile", "nproc=$podman_nproc:$podman_nproc"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$cache/podman-events.log"
EOC
mv "$CONTAINERS_CONF.tmp.$$" "$CONTAINERS_CONF"
cat >"$CONTAINERS_STORAGE_CONF.tmp.$$" <<EOC
[storage]
driver = "overlay"
graphroot = "$cache/storage"
runroot = "/run/beacon-image-podman"
EOC
mv "$CONTAINERS_STORAGE_CONF.tmp.$$" "$CONTAINERS_STORAGE_CONF"
