#!/usr/bin/env bash
# nat_netns.sh TEST_NAT - run test_nat --live inside a throw-away client namespace whose nftables DNATs a virtual
# address to a server in a second namespace (veth pair, 10.x addresses inside the namespaces only). Everything it
# creates carries this shell's pid and is removed on any exit.
set -euo pipefail
bin=$1
if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP nat_netns: needs root (network namespaces, nftables, conntrack netlink)" >&2
  exit 77
fi
for tool in ip nft conntrack ss; do
  command -v $tool >/dev/null || { echo "SKIP nat_netns: '$tool' not installed (apt-get install iproute2 nftables conntrack)" >&2; exit 77; }
done

id=$$
cns=frnatc$id sns=frnats$id
cif=frc$id sif=frs$id
vip=10.213.99.99 vport=80 real=10.213.0.2 rport=8080
server_pid=

cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  ip netns del "$cns" 2>/dev/null || true
  ip netns del "$sns" 2>/dev/null || true
}
trap cleanup EXIT INT TERM

ip netns add "$cns"
ip netns add "$sns"
ip link add "$cif" netns "$cns" type veth peer name "$sif" netns "$sns"
ip -n "$cns" addr add 10.213.0.1/24 dev "$cif"
ip -n "$sns" addr add "$real/24" dev "$sif"
for ns in "$cns" "$sns"; do ip -n "$ns" link set lo up; done
ip -n "$cns" link set "$cif" up
ip -n "$sns" link set "$sif" up
# the virtual address must be routable before the output hook rewrites it
ip -n "$cns" route add "$vip/32" dev "$cif"

# The DNAT rule lives in the client's namespace (locally generated traffic: the output hook).
ip netns exec "$cns" nft -f - <<NFT
table ip frnat$id {
  chain out {
    type nat hook output priority -100;
    ip daddr $vip tcp dport $vport dnat to $real:$rport
  }
}
NFT

# Conntrack events must be on in this namespace (0 = off; 1 = on; 2 = on while someone listens, kernels >= 6.x).
ev=$(ip netns exec "$cns" sysctl -n net.netfilter.nf_conntrack_events)
if [ "$ev" = 0 ]; then
  ip netns exec "$cns" sysctl -qw net.netfilter.nf_conntrack_events=1
fi
ip netns exec "$cns" conntrack -L >/dev/null 2>&1 || { echo "nat_netns: conntrack -L fails in the namespace" >&2; exit 1; }

ip netns exec "$sns" "$bin" --serve "$real" "$rport" &
server_pid=$!
for _ in $(seq 50); do
  ip netns exec "$sns" ss -Hltn "sport = :$rport" | grep -q . && break
  sleep 0.1
done

ip netns exec "$cns" "$bin" --live "$vip" "$vport" "$real" "$rport"
