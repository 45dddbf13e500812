"""Kernel constants the TCP simulator shares with congestion-control code.

Values are the Linux 6.18 ones (``enum tcp_ca_state``, ``enum tcp_ca_event``,
``enum tcp_ca_ack_event_flags``, ``enum sk_pacing``, ``ICSK_ACK_*`` as read from the
running kernel's BTF; the ``FLAG_*`` bits of net/ipv4/tcp_input.c; ``TCP_ECN_*`` and
``TCP_CONG_*`` of include/net/tcp.h).  A BPF program compiled against ``vmlinux.h``
sees exactly these numbers.
"""

from __future__ import annotations

U32 = 0xFFFFFFFF
U64 = 0xFFFFFFFFFFFFFFFF

# enum tcp_ca_state
TCP_CA_Open = 0
TCP_CA_Disorder = 1
TCP_CA_CWR = 2
TCP_CA_Recovery = 3
TCP_CA_Loss = 4
CA_STATE_NAMES = ("Open", "Disorder", "CWR", "Recovery", "Loss")

# enum tcp_ca_event
CA_EVENT_TX_START = 0
CA_EVENT_CWND_RESTART = 1
CA_EVENT_COMPLETE_CWR = 2
CA_EVENT_LOSS = 3
CA_EVENT_ECN_NO_CE = 4
CA_EVENT_ECN_IS_CE = 5
CA_EVENT_NAMES = ("TX_START", "CWND_RESTART", "COMPLETE_CWR", "LOSS", "ECN_NO_CE", "ECN_IS_CE")

# enum tcp_ca_ack_event_flags
CA_ACK_SLOWPATH = 1
CA_ACK_WIN_UPDATE = 2
CA_ACK_ECE = 4

# tcp_input.c FLAG_* (the ``flag`` argument of cong_control)
FLAG_DATA = 0x01
FLAG_WIN_UPDATE = 0x02
FLAG_DATA_ACKED = 0x04
FLAG_RETRANS_DATA_ACKED = 0x08
FLAG_SYN_ACKED = 0x10
FLAG_DATA_SACKED = 0x20
FLAG_ECE = 0x40
FLAG_LOST_RETRANS = 0x80
FLAG_SLOWPATH = 0x100
FLAG_ORIG_SACK_ACKED = 0x200
FLAG_SND_UNA_ADVANCED = 0x400
FLAG_DSACKING_ACK = 0x800
FLAG_SET_XMIT_TIMER = 0x1000
FLAG_ACK_MAYBE_DELAYED = 0x10000
FLAG_ACKED = FLAG_DATA_ACKED | FLAG_SYN_ACKED
FLAG_NOT_DUP = FLAG_DATA | FLAG_WIN_UPDATE | FLAG_ACKED
FLAG_CA_ALERT = FLAG_DATA_SACKED | FLAG_ECE | FLAG_DSACKING_ACK
FLAG_FORWARD_PROGRESS = FLAG_ACKED | FLAG_DATA_SACKED

# tcp_congestion_ops.flags
TCP_CONG_NON_RESTRICTED = 0x1
TCP_CONG_NEEDS_ECN = 0x2

# tcp_sock.ecn_flags (RFC 3168 mode bits)
TCP_ECN_OK = 0x1
TCP_ECN_QUEUE_CWR = 0x2
TCP_ECN_DEMAND_CWR = 0x4
TCP_ECN_SEEN = 0x8

# enum sk_pacing
SK_PACING_NONE = 0
SK_PACING_NEEDED = 1
SK_PACING_FQ = 2

# inet_connection_sock.icsk_ack.pending bits
ICSK_ACK_SCHED = 1
ICSK_ACK_TIMER = 2
ICSK_ACK_NOW = 16

TCP_INFINITE_SSTHRESH = 0x7FFFFFFF
TCP_INIT_CWND = 10
TCP_CA_NAME_MAX = 16
TCP_CA_PRIV_SIZE = 13 * 8  # u64 icsk_ca_priv[13]

# Timers, in microseconds (the kernel keeps them in jiffies; HZ only matters for
# snd_cwnd_stamp / icsk_rto, see TcpSock).
TCP_RTO_MIN_US = 200_000
TCP_RTO_MAX_US = 120_000_000
TCP_TIMEOUT_INIT_US = 1_000_000
TCP_DEFAULT_REORDERING = 3  # sysctl_tcp_reordering
TCP_MIN_RTT_WLEN_S = 300  # sysctl_tcp_min_rtt_wlen
TCP_PACING_SS_RATIO = 200
TCP_PACING_CA_RATIO = 120

__all__ = [name for name in dir() if name.isupper()]
