#!/usr/bin/env bash
# Can this machine run the local cluster (`pilotlight up --local`)? Exits 0 when it can; otherwise
# prints one line naming the first missing piece and exits 1. Probes leave nothing behind.
set -uo pipefail

missing() { echo "$*"; exit 1; }

[ "$(uname -s)" = Linux ] || missing "not Linux ($(uname -s)): the node needs Linux namespaces and cgroups"
[ "$(id -u)" = 0 ] || missing "not root: the node sets up addresses, routes, iptables and containerd"
[ -e /sys/fs/cgroup/cgroup.controllers ] || [ -d /sys/fs/cgroup/memory ] || missing "no cgroup filesystem under /sys/fs/cgroup"
command -v unshare >/dev/null && unshare --net --mount true 2>/dev/null || missing "cannot create network and mount namespaces (unshare --net --mount)"
if ! grep -qw overlay /proc/filesystems; then
  modprobe overlay 2>/dev/null
  grep -qw overlay /proc/filesystems || missing "no overlay filesystem (containerd's overlayfs snapshotter)"
fi
# Interface names are at most 15 characters.
probe="plpf$$"
ip link add "$probe" type bridge 2>/dev/null || missing "cannot create a bridge interface (the CNI bridge plugin needs one)"
ip link del "$probe"
command -v apt-get >/dev/null || missing "no apt-get to install containerd, runc, CNI plugins, iptables and conntrack"
exit 0
