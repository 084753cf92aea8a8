#!/usr/bin/env bash
# A one-node Slurm cluster on this machine for tests/test_slurm.py: Debian's slurm-wlm and munge,
# slurmctld and slurmd on localhost, one node with this machine's CPUs and memory, one partition
# `debug`. No accounting daemon (slurmdbd needs a database): job states come from squeue, as
# regexp/sweep/slurm_pool.py reads them. Idempotent and quick when the cluster is already up: `make
# test` runs it through install-tools.sh, and the Slurm tests run it when sinfo finds no cluster.
# Exits non-zero with one line on stderr when Slurm cannot be had here (not root, no apt-get).
set -euo pipefail

up() { timeout 5 sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated|completing)'; }
command -v sinfo >/dev/null 2>&1 && up && exit 0

if ! command -v slurmctld >/dev/null 2>&1 || ! command -v munged >/dev/null 2>&1; then
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        echo "slurm-cluster: Slurm is not installed and apt-get needs root here" >&2
        exit 1
    fi
    echo "slurm-cluster: installing Debian's slurm-wlm and munge for the Slurm tests"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
fi
[ "$(id -u)" -eq 0 ] || { echo "slurm-cluster: starting slurmctld and slurmd needs root" >&2; exit 1; }

node=$(hostname -s)
cpus=$(nproc)
memory=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 * 9 / 10 ))  # MB, below what slurmd measures
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/munge
conf="ClusterName=regexp-test
SlurmctldHost=${node}(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
ReturnToService=2
MpiDefault=none
KillWait=30
MinJobAge=600
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
NodeName=${node} NodeAddr=127.0.0.1 CPUs=${cpus} RealMemory=${memory} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP"
if [ "$(cat /etc/slurm/slurm.conf 2>/dev/null)" != "$conf" ]; then
    echo "$conf" > /etc/slurm/slurm.conf
fi

chown munge:munge /run/munge
# live daemons only: a killed one can leave a zombie of its name behind
munge -n -t 5 >/dev/null 2>&1 || runuser -u munge -- /usr/sbin/munged
pgrep -r R,S,D -x slurmctld >/dev/null || /usr/sbin/slurmctld
pgrep -r R,S,D -x slurmd >/dev/null || /usr/sbin/slurmd
for _ in $(seq 60); do
    up && exit 0
    # a node that came back after a restart may read down: this is the only node, so bring it back
    if timeout 5 sinfo -h -o %T 2>/dev/null | grep -qE '^(down|drain|drained)'; then
        scontrol update nodename="$node" state=resume >/dev/null 2>&1 || true
    fi
    sleep 0.5
done
echo "slurm-cluster: slurmctld and slurmd started but the node is not idle: $(sinfo -h -o '%T %E' 2>&1 | head -1)" >&2
exit 1
