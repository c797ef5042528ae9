#!/usr/bin/env bash
# One Kubernetes node of the cluster lab: containerd, kubelet and kube-proxy in the node's
# network namespace, sharing one private mount namespace and UTS namespace. Started by
# test/cluster/cluster.ts as
#   ip netns exec <netns> unshare --uts node.sh <node dir>
# (`ip netns exec` already gives a mount namespace of our own, a slave of the host's: mounts
# made here never reach the host). <node dir> holds env (NODE, NODE_IP, BINS, CGROUP), the
# configuration files cluster.ts wrote, and receives the state of the three daemons.
#
# The host is left as it is: host-wide sysctls that kubelet writes are shadowed by files bound
# over /proc/sys in this mount namespace only; the per-node cgroups are removed by cluster.ts.
set -euo pipefail
dir=$1
# shellcheck source=/dev/null
. "$dir/env"
hostname "$NODE"

# `ip netns exec` remounted /sys for the namespace, without the cgroup hierarchies: mount them
# again (cgroup v1, hybrid: the v2 hierarchy at unified).
mount -t tmpfs -o mode=755 cgroup /sys/fs/cgroup
for c in cpu cpuacct cpuset memory devices freezer blkio pids; do
  mkdir -p /sys/fs/cgroup/$c && mount -t cgroup -o $c cgroup /sys/fs/cgroup/$c
done
mkdir -p /sys/fs/cgroup/systemd && mount -t cgroup -o none,name=systemd cgroup /sys/fs/cgroup/systemd
mkdir -p /sys/fs/cgroup/unified && mount -t cgroup2 cgroup2 /sys/fs/cgroup/unified
# Everything this node runs (daemons, shims, Pods) lives under /<CGROUP> in every hierarchy,
# which cluster.ts empties and removes on teardown.
for c in cpu cpuacct cpuset memory devices freezer blkio pids systemd; do
  echo $$ >"/sys/fs/cgroup/$c/$CGROUP/cgroup.procs"
done

# Paths kubelet, containerd and the CNI plugins hard-code, per node.
for p in /var/lib/kubelet /var/lib/cni /run/containerd /run/netns; do
  mkdir -p "$dir/mnt$p" "$p"
  mount --bind "$dir/mnt$p" "$p"
done
# kubelet sets kernel.panic=10, kernel.panic_on_oops=1 and vm.overcommit_memory=1 (and
# refuses to start with protectKernelDefaults when they differ): these files already hold
# those values and stand in for the host's entries, here only.
for kv in kernel/panic=10 kernel/panic_on_oops=1 vm/overcommit_memory=1; do
  key=${kv%%=*}; f="$dir/sysctl.${key//\//.}"
  echo "${kv#*=}" >"$f"
  mount --bind "$f" "/proc/sys/$key"
done
# kubelet links container logs into /var/log/containers, a path it hard-codes: a tmpfs here
# keeps the links off the host (the logs themselves go to the node's podLogsDir).
mount -t tmpfs -o mode=755 varlog /var/log

# Inside the node: forwarding between Pods, the LAN and other nodes' Pods (per-namespace).
sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0

pids=()
stop() {
  trap - TERM INT
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill -TERM "${pids[i]}" 2>/dev/null || true; done
  wait || true
  exit 0
}
trap stop TERM INT

containerd --config "$dir/containerd.toml" >"$dir/containerd.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 300); do [ -S "$dir/containerd.sock" ] && break; sleep 0.1; done
[ -S "$dir/containerd.sock" ] || { echo "containerd did not start" >&2; tail "$dir/containerd.log" >&2; exit 1; }

# Images: Beacon's, the pause image and the demo's app, from OCI archives.
for a in "$dir"/images/*.tar; do
  [ -e "$a" ] || continue
  ctr --address "$dir/containerd.sock" -n k8s.io images import --all-platforms "$a" >>"$dir/images.log" 2>&1
done
touch "$dir/images-imported"

"$BINS/kubelet" --config="$dir/kubelet.yaml" --kubeconfig="$dir/kubeconfig" \
  --hostname-override="$NODE" --node-ip="$NODE_IP" \
  --container-runtime-endpoint="unix://$dir/containerd.sock" --v=1 >"$dir/kubelet.log" 2>&1 &
pids+=($!)
"$BINS/kube-proxy" --config="$dir/kube-proxy.yaml" >"$dir/kube-proxy.log" 2>&1 &
pids+=($!)
wait -n || true
echo "a daemon of node $NODE exited" >&2
stop
