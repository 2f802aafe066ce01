"""Decode only what the signals sample, numbering frames exactly as a full decode does.

Two kinds of frame are never decoded when no signal samples them:
- a frame no other frame refers to (FFmpeg's ``skip_frame`` NONREF, set packet by packet);
- the tail of a group of pictures after the last frame some signal samples in it, when the
  next group starts at a keyframe with no leading frames (a closed GOP): nothing after the
  tail refers back into it. At 1 sample a second and a keyframe every 1-2 s, that is most
  of the video.

A frame's number is its rank among the packets' presentation timestamps, which is its number
in the full decode as long as every packet gives one frame. Whether to skip a packet is
decided on the number its timestamp gives at the stream's frame rate (a neighbour either
side is kept too when the timestamp is off the frame grid); a packet that gave no frame
without being skipped (a decode error), a skipped one that turned out to be wanted, or a
frame whose timestamp no packet had, raises ``NotExact`` before a wrong number is handed on.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator
from fractions import Fraction
from typing import Any, Protocol

import av

# A group of pictures is held (compressed) until the next one is seen; one larger than this
# is decoded as it comes, without dropping its tail.
MAX_GROUP_BYTES = 64 * 1024 * 1024


class NotExact(Exception):
    """Skipping undecoded frames could not number the frames as a full decode does: decode
    the video again without skipping."""


class Budget(Protocol):
    numbered: int

    def check(self, index: int) -> None: ...


def sampled_frames(container: av.container.InputContainer, stream: av.VideoStream,
                   fps: float, budget: Budget, wanted: Callable[[int], bool],
                   frame: Callable[[int, float, float, av.VideoFrame], Any]) -> Iterator[Any]:
    """``frame(number, number / fps, pts seconds, decoded)`` for every decoded frame."""
    time_base: Fraction | None = stream.time_base
    assert time_base is not None
    start = stream.start_time or 0
    ranks = _Ranks(wanted)
    ctx = stream.codec_context

    def needed(pts: int) -> bool:
        at = float((pts - start) * time_base) * fps
        guess = round(at)
        if abs(at - guess) < 0.25:  # on the frame grid: the number is this one
            return wanted(guess)
        return wanted(guess) or wanted(guess - 1) or wanted(guess + 1)

    def decode(packet: av.Packet | None, skip: bool) -> Iterator[Any]:
        if packet is not None:
            ranks.sent(packet.pts, skipped=skip)
        ctx.skip_frame = "NONREF" if skip else "DEFAULT"
        for decoded in ctx.decode(packet):
            if decoded.pts is None:
                raise NotExact("a frame without a timestamp")
            number = ranks.shown(decoded.pts)
            budget.check(number)
            yield frame(number, number / fps, float(decoded.time), decoded)

    held: list[av.Packet] | None = None
    for group in _groups(container.demux(stream)):
        if held is not None:
            yield from _decode_group(held, _closed(group), needed, decode, ranks)
        held = group
    if held is not None:
        yield from _decode_group(held, True, needed, decode, ranks)
    yield from decode(None, False)  # flush the decoder
    ranks.end()
    budget.numbered = max(budget.numbered, ranks.index)


def _decode_group(group: list[av.Packet], closed: bool, needed: Callable[[int], bool],
                  decode: Callable[[av.Packet | None, bool], Iterator[Any]],
                  ranks: _Ranks) -> Iterator[Any]:
    """Decode a group: its tail after the last needed packet (decode order) is dropped when
    the next group is closed; unneeded packets before it are decoded only if referenced."""
    wants = [needed(p.pts) for p in group]
    last = max((i for i, w in enumerate(wants) if w), default=-1)
    for i, packet in enumerate(group):
        if closed and i > last:
            ranks.sent(packet.pts, skipped=True)  # never sent to the decoder
        else:
            yield from decode(packet, not wants[i])


def _groups(packets: Iterable[av.Packet]) -> Iterator[list[av.Packet]]:
    """Packets from one keyframe to the next (the first group may start without one); a group
    over ``MAX_GROUP_BYTES`` is handed on in parts (the parts after the first do not start at
    a keyframe, so the group before each is never cut)."""
    group: list[av.Packet] = []
    size = 0
    for packet in packets:
        if packet.size == 0 and packet.pts is None:  # the demuxer's end marker
            continue
        if packet.pts is None:
            raise NotExact("a packet without a timestamp")
        if group and (packet.is_keyframe or size > MAX_GROUP_BYTES):
            yield group
            group, size = [], 0
        group.append(packet)
        size += packet.size
    if group:
        yield group


def _closed(group: list[av.Packet]) -> bool:
    """Whether ``group`` starts at a keyframe that no frame shown before it follows in decode
    order (a leading B-frame of an open GOP refers to the group before)."""
    if not group or not group[0].is_keyframe:
        return False
    key = group[0].pts
    for packet in group[1:]:
        if packet.pts < key:
            return False
        if packet.pts > key:
            return True
    return True


class _Ranks:
    """Frame numbers from presentation timestamps: a shown frame's number is how many packets
    (decoded or skipped) have an earlier timestamp."""

    def __init__(self, wanted: Callable[[int], bool]) -> None:
        self.wanted = wanted
        self.pending: list[int] = []  # timestamps sent or skipped, not yet numbered (a heap)
        self.skipped: set[int] = set()
        self.index = 0

    def sent(self, pts: int, *, skipped: bool) -> None:
        heapq.heappush(self.pending, pts)
        if skipped:
            self.skipped.add(pts)

    def _pass(self, pts: int) -> None:
        """A frame that will never be shown: it must have been skipped, and not wanted."""
        if pts not in self.skipped or self.wanted(self.index):
            raise NotExact(f"frame {self.index} was not decoded")
        self.skipped.discard(pts)
        self.index += 1

    def shown(self, pts: int) -> int:
        while self.pending and self.pending[0] < pts:
            self._pass(heapq.heappop(self.pending))
        if not self.pending or heapq.heappop(self.pending) != pts:
            raise NotExact("a frame's timestamp matches no packet")
        self.skipped.discard(pts)
        self.index += 1
        return self.index - 1

    def end(self) -> None:
        while self.pending:
            self._pass(heapq.heappop(self.pending))
