"""Call one ``tcp_congestion_ops`` member of a BPF congestion control from a test.

:func:`load_cc` loads an object on an embedded kernel, registers its
``tcp_congestion_ops`` map and returns a :class:`CongestionControlUnderTest` whose
methods are the members the object implements.  Sockets come from
:meth:`CongestionControlUnderTest.socket`: their ``struct tcp_sock`` (with its
``inet_connection_sock`` and ``sock`` parts) lives in kernel memory, is written before
each call and the fields a congestion control may write are read back after it, as
the simulator's bridge does for every call in a simulated run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from structops.testing._globals import GlobalVariables
from structops.testing._load import LoadedObject, build, kernel_map, open_and_register

if TYPE_CHECKING:
    from structops.api import Collection, Link, Map
    from structops.kernel.emulated import EmulatedKernel
    from structops.kernel.subsys.tcp_ca import CongestionControl
    from structops.kernel.tcp_bridge import KernelTcpSock, TcpBridge
    from structops.sim.ops import TcpCongestionOps

__all__ = ["CongestionControlUnderTest", "TestSocket", "load_cc"]


class TestSocket:
    """A TCP socket for one congestion control under test; its fields are attributes.

    ``sk.snd_cwnd``, ``sk.snd_ssthresh``, ``sk.icsk_ca_state``, ``sk.srtt_us`` … are the
    ``struct tcp_sock`` fields the simulator models (see :class:`structops.sim.TcpSock`);
    ``sk.icsk_ca_priv`` is the algorithm's private area (bytes).  ``sk.kernel`` is a BTF
    view of the struct in kernel memory, for fields beyond those (read after a call).
    """

    __test__ = False  # not a pytest test class

    def __init__(self, owner: CongestionControlUnderTest, sock: KernelTcpSock) -> None:
        object.__setattr__(self, "_owner", owner)
        object.__setattr__(self, "_sock", sock)

    @property
    def kernel(self) -> Any:
        """A BTF view of the socket's ``struct tcp_sock`` in kernel memory."""
        return self._sock.view()

    @property
    def addr(self) -> int:
        """The kernel address the programs receive as ``struct sock *``."""
        return int(self._sock.addr)

    def __getattr__(self, name: str) -> Any:
        try:
            return getattr(self._sock, name)
        except AttributeError:
            raise AttributeError(f"a tcp socket has no field {name!r} that tests can set or read") from None

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_") or not hasattr(self._sock, name):
            raise AttributeError(f"a tcp socket has no field {name!r} that tests can set or read")
        setattr(self._sock, name, value)

    def close(self) -> None:
        """Destroy the socket: ``release`` (if implemented) runs, then the struct is freed."""
        self._owner._close_socket(self)

    def __repr__(self) -> str:
        s = self._sock
        return f"<TestSocket cwnd={s.snd_cwnd} ssthresh={s.snd_ssthresh} ca_state={s.icsk_ca_state}>"


def _sample(cls: type, value: Any) -> Any:
    if isinstance(value, cls):
        return value
    if isinstance(value, Mapping):
        obj: Any = object.__new__(cls)
        fields: tuple[str, ...] = cls.FIELDS  # type: ignore[attr-defined]
        for name in fields:
            setattr(obj, name, 0)
        for k, v in value.items():
            if k not in fields:
                raise TypeError(f"{cls.__name__} has no field {k!r} (fields: {', '.join(fields)})")
            setattr(obj, k, v)
        return obj
    raise TypeError(f"expected a {cls.__name__} or a dict of its fields, not {type(value).__name__}")


class CongestionControlUnderTest(LoadedObject):
    """A registered BPF congestion control whose members can be called one at a time.

    Methods are the ``tcp_congestion_ops`` members the object implements (a member it
    does not implement raises :class:`AttributeError`); each takes a :class:`TestSocket`
    first, then the member's C arguments:

    ``ssthresh(sk)``, ``undo_cwnd(sk)``, ``min_tso_segs(sk)``, ``sndbuf_expand(sk)``,
    ``init(sk)``, ``release(sk)``, ``cong_avoid(sk, ack, acked)``,
    ``set_state(sk, new_state)``, ``cwnd_event(sk, event)``, ``in_ack_event(sk, flags)``,
    ``pkts_acked(sk, sample)`` (an :class:`~structops.sim.AckSample` or a dict of its
    fields), ``cong_control(sk, ack, flag, rs)`` (a :class:`~structops.sim.RateSample` or
    a dict).  Each returns the program's return value (``None`` for void members).

    ``maps`` are the object's maps, ``globals`` its global variables by name, ``name``
    the registered algorithm name.  Use it as a context manager, or call :meth:`close`.
    """

    __test__ = False

    def __init__(self, coll: Collection, st_map: Map, link: Link | None, kernel: EmulatedKernel) -> None:
        from structops.kernel.tcp_bridge import TcpBridge

        super().__init__(coll, st_map, link, kernel)
        self.kernel: EmulatedKernel = kernel
        self.bridge: TcpBridge = TcpBridge(kernel)
        self.entry: CongestionControl = self._find_entry()
        self.ops: TcpCongestionOps = self.bridge.registry.ops(self.entry)
        self.globals = GlobalVariables(coll)

    def _find_entry(self) -> CongestionControl:
        ccs = self.kernel.tcp_congestion  # type: ignore[attr-defined]
        st_map = kernel_map(self.kernel, self.map.fd)
        for name in ccs.available():
            e = ccs.find(name)
            if e is not None and e.kdata is not None and e.kdata.map is st_map:
                return e  # type: ignore[no-any-return]
        raise LookupError(f"struct_ops map {self.map.name} did not register a congestion control")

    @property
    def name(self) -> str:
        """The algorithm's name in ``tcp_available_congestion_control``."""
        return self.entry.name

    def members(self) -> list[str]:
        """The ``tcp_congestion_ops`` members the object implements."""
        return self.ops.present_ops()

    def socket(self, **fields: Any) -> TestSocket:
        """A new established socket using this algorithm, with ``fields`` set.

        The socket holds a reference on the struct_ops map, as a real socket does.
        ``init`` is not called: call ``cc.init(sk)`` where the test needs it.
        """
        sock = self.bridge.socket()
        sock.icsk_ca_ops = self.ops
        sk = TestSocket(self, sock)
        for k, v in fields.items():
            setattr(sk, k, v)
        return sk

    def _close_socket(self, sk: TestSocket) -> None:
        sock = sk._sock
        if sock.freed:
            return
        kdata = self.entry.kdata
        if kdata is not None and kdata.has("release"):
            self._call(lambda s: kdata.call("release", s.addr), sk)
        sock.free()

    def _call(self, fn: Callable[..., Any], sk: TestSocket, *args: Any) -> Any:
        if not isinstance(sk, TestSocket):
            raise TypeError(f"the first argument must be a socket from cc.socket(), not {type(sk).__name__}")
        sock = sk._sock
        sock.sync_to_kernel()
        try:
            return fn(sock, *args)
        finally:
            sock.sync_from_kernel()

    def __getattr__(self, member: str) -> Callable[..., Any]:
        from structops.sim.ops import OP_NAMES
        from structops.sim.sock import AckSample, RateSample

        if member.startswith("_") or member not in OP_NAMES:
            raise AttributeError(member)
        kdata = self.entry.kdata
        if kdata is None or not kdata.has(member):
            raise AttributeError(f"{self.name} does not implement tcp_congestion_ops.{member}")
        if member == "release":  # the op alone, not the socket teardown around it
            fn: Callable[..., Any] = lambda s: kdata.call("release", s.addr)  # noqa: E731
        else:
            fn = getattr(self.ops, member)
        convert: Callable[[tuple[Any, ...]], tuple[Any, ...]] | None = None
        if member == "pkts_acked":
            convert = lambda a: (_sample(AckSample, a[0]),)  # noqa: E731
        elif member == "cong_control":
            convert = lambda a: (*a[:2], _sample(RateSample, a[2])) if len(a) == 3 else a  # noqa: E731
        void = member not in ("ssthresh", "undo_cwnd", "min_tso_segs", "sndbuf_expand")

        def call(sk: TestSocket, *args: Any) -> Any:
            if not isinstance(sk, TestSocket):
                raise TypeError(f"the first argument must be a socket from cc.socket(), not {type(sk).__name__}")
            if convert is not None:
                args = convert(args)
            sock = sk._sock
            if not sock.NEEDS_SYNC:  # the algorithm's programs touch no socket field (as call_op)
                ret = fn(sock, *args)
                return None if void else ret
            sock.sync_to_kernel()
            try:
                ret = fn(sock, *args)
            finally:
                sock.sync_from_kernel()
            return None if void else ret

        call.__name__ = member
        call.__doc__ = f"Call tcp_congestion_ops.{member} of {self.name} on a test socket."
        self.__dict__[member] = call  # built once: later lookups find it without __getattr__
        return call

    def _teardown(self) -> None:
        self.bridge.close()  # the sockets first: they hold references on the map

    def __repr__(self) -> str:
        return f"<CongestionControlUnderTest {self.name!r} members={self.members()}>"


def load_cc(
    obj: str | Path | bytes | Collection,
    map_name: str | None = None,
    kernel: EmulatedKernel | None = None,
) -> CongestionControlUnderTest:
    """Load a BPF congestion control and register it, ready for member calls.

    ``obj`` is an object file path, its bytes, or an opened :class:`~structops.api.Collection`;
    ``map_name`` chooses the ``tcp_congestion_ops`` map when the object has several;
    ``kernel`` is an embedded kernel (a new one by default).  The real kernel offers no
    way to call one member of a congestion control, so this is embedded-only.
    """
    if kernel is None:
        from structops.kernel.emulated import EmulatedKernel

        kernel = EmulatedKernel()
    elif getattr(kernel, "name", "") != "embedded":
        raise TypeError("load_cc needs an embedded kernel: Linux offers no way to call one congestion control member")
    coll, st_map, link = open_and_register(obj, map_name, kernel, ("tcp_congestion_ops",))
    return build(CongestionControlUnderTest, coll, st_map, link)
