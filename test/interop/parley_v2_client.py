#!/usr/bin/env python3
"""A minimal Parley protocol v2 client, written from docs/protocol.md alone, and a scripted interop check.

Usage: python3 test/interop/parley_v2_client.py <ws-url>

Standard library only: the RFC 6455 client (HTTP upgrade, masked client frames, text/binary/continuation
frames with 7-, 16- and 64-bit lengths, ping -> pong, close) is implemented here. Each check prints one
`ok: ...` line; the first failing one prints `FAIL: ...` and the script exits 1. Every network wait has a
timeout, so the script cannot hang.
"""

import base64
import hashlib
import json
import os
import socket
import struct
import sys
import time

WAIT_S = 5.0  # every network wait gives up after this long
WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'  # RFC 6455 §1.3

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA

ROOM = 'interop'


class CheckFailed(Exception):
    pass


def ok(label, detail=''):
    print('ok: ' + label + (' (' + detail + ')' if detail else ''), flush=True)


def note(text):
    print('note: ' + text, flush=True)


def check(condition, label, detail=''):
    if not condition:
        raise CheckFailed(label + (': ' + detail if detail else ''))
    ok(label)


def random_id(prefix):
    # §9: ids SHOULD be random, since the de-duplication window spans a user's connections.
    return prefix + '-' + os.urandom(8).hex()


# --------------------------------------------------------------------------------------------------------------
# RFC 6455 client
# --------------------------------------------------------------------------------------------------------------


class Closed(Exception):
    """The peer sent a close frame (or the TCP connection ended)."""

    def __init__(self, code, reason):
        super().__init__('closed %s %r' % (code, reason))
        self.code = code
        self.reason = reason


class WebSocket:
    def __init__(self, url, protocols):
        if not url.startswith('ws://'):
            raise CheckFailed('only ws:// URLs are supported, got %r' % url)
        rest = url[len('ws://'):]
        slash = rest.find('/')
        hostport, path = (rest, '/') if slash < 0 else (rest[:slash], rest[slash:])
        if hostport.startswith('['):
            host, _, port = hostport[1:].partition(']')
            port = port.lstrip(':')
        else:
            host, _, port = hostport.partition(':')
        self.host, self.port, self.path = host, int(port or 80), path
        self.buffer = b''
        self.closed = None  # (code, reason) once a close frame arrived
        self.close_sent = False
        self.sock = socket.create_connection((self.host, self.port), timeout=WAIT_S)
        self.protocol, self.response_headers = self._handshake(hostport, protocols)

    # -- handshake --

    def _handshake(self, hostport, protocols):
        key = base64.b64encode(os.urandom(16)).decode('ascii')
        request = (
            'GET %s HTTP/1.1\r\n'
            'Host: %s\r\n'
            'Upgrade: websocket\r\n'
            'Connection: Upgrade\r\n'
            'Sec-WebSocket-Key: %s\r\n'
            'Sec-WebSocket-Version: 13\r\n'
            'Sec-WebSocket-Protocol: %s\r\n'
            '\r\n' % (self.path, hostport, key, ', '.join(protocols))
        )
        self.sock.sendall(request.encode('ascii'))
        deadline = time.monotonic() + WAIT_S
        while b'\r\n\r\n' not in self.buffer:
            self._fill(deadline)
        head, self.buffer = self.buffer.split(b'\r\n\r\n', 1)
        lines = head.decode('iso-8859-1').split('\r\n')
        status = lines[0].split(' ', 2)
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(':')
            name = name.strip().lower()
            headers[name] = (headers[name] + ', ' if name in headers else '') + value.strip()
        if len(status) < 2 or status[1] != '101':
            body = self.buffer.decode('utf-8', 'replace')
            raise CheckFailed('upgrade refused: %s %s' % (lines[0], body))
        expected = base64.b64encode(hashlib.sha1((key + WS_GUID).encode('ascii')).digest()).decode('ascii')
        if headers.get('sec-websocket-accept') != expected:
            raise CheckFailed('bad Sec-WebSocket-Accept %r' % headers.get('sec-websocket-accept'))
        if headers.get('upgrade', '').lower() != 'websocket':
            raise CheckFailed('bad Upgrade header %r' % headers.get('upgrade'))
        return headers.get('sec-websocket-protocol'), headers

    # -- socket reading --

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout('nothing from %s:%d within %.1f s' % (self.host, self.port, WAIT_S))
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise socket.timeout('nothing from %s:%d within %.1f s' % (self.host, self.port, WAIT_S))
        if not chunk:
            raise Closed(1006, 'TCP connection ended without a close frame')
        self.buffer += chunk

    def _read(self, n, deadline):
        while len(self.buffer) < n:
            self._fill(deadline)
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    # -- frames --

    @staticmethod
    def _mask(payload, key):
        # XOR with the 4-byte key repeated (RFC 6455 §5.3), done as one big integer for speed.
        if not payload:
            return payload
        repeated = (key * (len(payload) // 4 + 1))[:len(payload)]
        return (int.from_bytes(payload, 'big') ^ int.from_bytes(repeated, 'big')).to_bytes(len(payload), 'big')

    def send_frame(self, opcode, payload, fin=True):
        header = bytes([(0x80 if fin else 0) | opcode])
        n = len(payload)
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 65536:
            header += bytes([0x80 | 126]) + struct.pack('>H', n)
        else:
            header += bytes([0x80 | 127]) + struct.pack('>Q', n)
        key = os.urandom(4)  # clients MUST mask every frame, with a fresh unpredictable key (RFC 6455 §5.3)
        self.sock.settimeout(WAIT_S)
        self.sock.sendall(header + key + self._mask(payload, key))

    def send_text(self, obj):
        self.send_frame(OP_TEXT, json.dumps(obj, separators=(',', ':'), ensure_ascii=False).encode('utf-8'))

    def send_binary(self, payload):
        self.send_frame(OP_BINARY, payload)

    def _read_frame(self, deadline):
        b0, b1 = self._read(2, deadline)
        fin, rsv, opcode = b0 & 0x80, b0 & 0x70, b0 & 0x0F
        masked, n = b1 & 0x80, b1 & 0x7F
        if rsv:
            raise CheckFailed('server frame with RSV bits set (no extension was negotiated)')
        if masked:
            raise CheckFailed('server frame is masked (RFC 6455 §5.1 forbids it)')
        if n == 126:
            (n,) = struct.unpack('>H', self._read(2, deadline))
        elif n == 127:
            (n,) = struct.unpack('>Q', self._read(8, deadline))
        return bool(fin), opcode, self._read(n, deadline)

    def recv(self, timeout=WAIT_S):
        """The next data message as (opcode, payload); answers pings; raises Closed on a close frame."""
        if self.closed:
            raise Closed(*self.closed)
        deadline = time.monotonic() + timeout
        message_opcode, parts = None, []
        while True:
            fin, opcode, payload = self._read_frame(deadline)
            if opcode == OP_PING:
                self.send_frame(OP_PONG, payload)
                continue
            if opcode == OP_PONG:
                continue
            if opcode == OP_CLOSE:
                code = struct.unpack('>H', payload[:2])[0] if len(payload) >= 2 else 1005
                reason = payload[2:].decode('utf-8', 'replace')
                self.closed = (code, reason)
                if not self.close_sent:  # echo the close (RFC 6455 §5.5.1), then drop the TCP connection
                    try:
                        self.send_frame(OP_CLOSE, payload[:2])
                        self.close_sent = True
                    except OSError:
                        pass
                self.sock.close()
                raise Closed(code, reason)
            if opcode in (OP_TEXT, OP_BINARY):
                if message_opcode is not None:
                    raise CheckFailed('new data frame inside a fragmented message')
                message_opcode = opcode
            elif opcode == OP_CONT:
                if message_opcode is None:
                    raise CheckFailed('continuation frame without a message')
            else:
                raise CheckFailed('unknown opcode %d' % opcode)
            parts.append(payload)
            if fin:
                return message_opcode, b''.join(parts)

    def wait_close(self, timeout=WAIT_S):
        """Reads until the peer closes; returns (code, reason, data messages received before the close)."""
        before = []
        deadline = time.monotonic() + timeout
        try:
            while True:
                before.append(self.recv(max(0.0, deadline - time.monotonic())))
        except Closed as closed:
            return closed.code, closed.reason, before

    def close(self, code=1000):
        try:
            if not self.close_sent and not self.closed:
                self.send_frame(OP_CLOSE, struct.pack('>H', code))
                self.close_sent = True
        except OSError:
            pass
        self.sock.close()


# --------------------------------------------------------------------------------------------------------------
# Parley (docs/protocol.md)
# --------------------------------------------------------------------------------------------------------------


def encode_binary(header, payload):
    """§19.1: 4-byte big-endian header length N, N bytes of UTF-8 JSON header (no `bytes`), then the bytes."""
    raw = json.dumps(header, separators=(',', ':'), ensure_ascii=False).encode('utf-8')
    return struct.pack('>I', len(raw)) + raw + payload


def decode_binary(frame):
    if len(frame) < 4:
        raise CheckFailed('binary frame shorter than 4 bytes')
    (n,) = struct.unpack('>I', frame[:4])
    if 4 + n > len(frame):
        raise CheckFailed('binary frame header length %d past the end (%d bytes)' % (n, len(frame)))
    header = json.loads(frame[4:4 + n].decode('utf-8'))
    return header, frame[4 + n:]


class Message:
    """One data message received, decoded: kind 'text' or 'binary', the JSON object, the bytes of a binary one."""

    def __init__(self, opcode, payload):
        if opcode == OP_TEXT:
            self.kind = 'text'
            self.raw = payload.decode('utf-8')
            self.keys = [k for k, _ in json.loads(self.raw, object_pairs_hook=lambda pairs: pairs)]
            self.obj = json.loads(self.raw)
            self.payload = None
        else:
            self.kind = 'binary'
            self.obj, self.payload = decode_binary(payload)
            self.raw = None
            self.keys = list(self.obj.keys()) if isinstance(self.obj, dict) else []
        if not isinstance(self.obj, dict) or not isinstance(self.obj.get('type'), str):
            raise CheckFailed('frame is not an object with a string type: %r' % (self.raw or self.obj))

    @property
    def type(self):
        return self.obj['type']

    def __repr__(self):
        return '<%s %s>' % (self.kind, self.raw if self.raw is not None else json.dumps(self.obj))


class Session:
    def __init__(self, name, url, offer):
        self.name = name
        self.ws = WebSocket(url, offer)
        self.inbox = []  # data messages read while waiting for something else
        self.welcome = None

    def next(self, timeout=WAIT_S):
        if self.inbox:
            return self.inbox.pop(0)
        opcode, payload = self.ws.recv(timeout)
        return Message(opcode, payload)

    def wait_for(self, predicate, what, timeout=WAIT_S):
        """The first message matching predicate; others are kept for later waits, in order."""
        for i, m in enumerate(self.inbox):
            if predicate(m):
                return self.inbox.pop(i)
        deadline = time.monotonic() + timeout
        seen = []
        while True:
            remaining = deadline - time.monotonic()
            try:
                if remaining <= 0:
                    raise socket.timeout()
                opcode, payload = self.ws.recv(remaining)
            except socket.timeout:
                raise CheckFailed('%s: no %s within %.0f s; got %r' % (self.name, what, timeout, seen))
            except Closed as c:
                raise CheckFailed('%s: closed %d %r while waiting for %s' % (self.name, c.code, c.reason, what))
            m = Message(opcode, payload)
            if predicate(m):
                return m
            seen.append(m)
            self.inbox.append(m)

    def take(self, predicate):
        """Removes and returns every buffered message matching predicate, in arrival order."""
        taken = [m for m in self.inbox if predicate(m)]
        self.inbox = [m for m in self.inbox if not predicate(m)]
        return taken


def is_room_message(m):
    return m.type == 'message' and m.obj.get('room') == ROOM


def errors_in(messages):
    return [m.obj for m in messages if m.type == 'error']


def wait_close(s):
    try:
        return s.ws.wait_close()
    except socket.timeout:
        raise CheckFailed('%s: the server did not close within %.0f s' % (s.name, WAIT_S))


def main(url):
    blob = bytes(range(256)) * 19 + os.urandom(5000 - 256 * 19)  # 5000 bytes, every value 0..255 present
    assert len(blob) == 5000 and len(set(blob)) == 256
    blob_data = {'name': 'blob.bin'}
    plain_data = {'text': 'plain after the blob', 'n': 2}

    # a. the v2 connection -----------------------------------------------------------------------------------
    a = Session('v2', url, ['parley.v2.json', 'parley.v1.json'])
    check(a.ws.protocol == 'parley.v2.json', 'v2 handshake: server selected parley.v2.json',
          'Sec-WebSocket-Protocol answered %r' % a.ws.protocol)
    welcome = a.next()
    a.welcome = welcome.obj
    check(welcome.kind == 'text' and welcome.type == 'welcome', 'v2 first message is a welcome text frame',
          repr(welcome))
    check(welcome.obj.get('version') == 2 and welcome.obj.get('protocol') == 'parley.v2.json',
          'v2 welcome says version 2, protocol parley.v2.json',
          'version %r protocol %r' % (welcome.obj.get('version'), welcome.obj.get('protocol')))
    note('v2 welcome: %s' % welcome.raw)
    max_payload = welcome.obj.get('limits', {}).get('maxPayload', 65536)
    a_user = welcome.obj.get('user')

    # b. the v1 connection -----------------------------------------------------------------------------------
    b = Session('v1', url, ['parley.v1.json'])
    check(b.ws.protocol == 'parley.v1.json', 'v1 handshake: server selected parley.v1.json',
          'Sec-WebSocket-Protocol answered %r' % b.ws.protocol)
    welcome_b = b.next()
    b.welcome = welcome_b.obj
    check(welcome_b.kind == 'text' and welcome_b.type == 'welcome' and welcome_b.obj.get('version') == 1
          and welcome_b.obj.get('protocol') == 'parley.v1.json', 'v1 welcome says version 1, protocol parley.v1.json',
          repr(welcome_b))

    # c. both join -------------------------------------------------------------------------------------------
    joined = {}
    for s in (a, b):
        jid = random_id('join')
        s.ws.send_text({'type': 'join', 'room': ROOM, 'id': jid})
        m = s.wait_for(lambda m, jid=jid: m.type in ('joined', 'error') and m.obj.get('id') == jid, 'joined')
        check(m.type == 'joined' and m.obj.get('room') == ROOM and m.obj.get('recovery') is None
              and isinstance(m.obj.get('seq'), int) and isinstance(m.obj.get('epoch'), str),
              '%s joined room %s' % (s.name, ROOM), repr(m))
        joined[s.name] = m.obj
    b_head = joined['v1']['seq']

    # d. binary publish from v2 ------------------------------------------------------------------------------
    pid1, pid2 = random_id('pub'), random_id('pub')
    frame = encode_binary({'type': 'publish', 'room': ROOM, 'data': blob_data, 'id': pid1}, blob)
    check(len(frame) <= max_payload, 'binary publish frame fits welcome.limits.maxPayload',
          '%d > %d' % (len(frame), max_payload))
    a.ws.send_binary(frame)
    ack1 = a.wait_for(lambda m: m.type in ('ack', 'error') and m.obj.get('id') == pid1, 'ack of the binary publish')
    check(ack1.type == 'ack' and ack1.kind == 'text' and ack1.obj.get('room') == ROOM
          and isinstance(ack1.obj.get('seq'), int) and ack1.obj.get('seq') >= 1
          and isinstance(ack1.obj.get('epoch'), str) and not ack1.obj.get('duplicate'),
          'binary publish acked with room, seq and epoch', repr(ack1))
    seq1, epoch = ack1.obj['seq'], ack1.obj['epoch']

    # e. plain publish after it ------------------------------------------------------------------------------
    a.ws.send_text({'type': 'publish', 'room': ROOM, 'data': plain_data, 'id': pid2})
    ack2 = a.wait_for(lambda m: m.type in ('ack', 'error') and m.obj.get('id') == pid2, 'ack of the plain publish')
    check(ack2.type == 'ack' and ack2.obj.get('seq') == seq1 + 1 and ack2.obj.get('epoch') == epoch,
          'plain publish acked with the next seq', repr(ack2))

    # f. the v2 connection gets its own messages back (echo defaults to true, §6.4 / §9) ----------------------
    m1 = a.wait_for(is_room_message, 'echo of the binary message')
    check(m1.kind == 'binary', 'v2 echo of the bytes message is a binary frame', repr(m1))
    check(m1.obj.get('seq') == seq1 and m1.obj.get('epoch') == epoch and m1.obj.get('from') == a_user
          and m1.obj.get('data') == blob_data and isinstance(m1.obj.get('ts'), (int, float)),
          'v2 binary header is the message (room, seq, epoch, from, ts, data)', repr(m1))
    check('bytes' not in m1.obj, 'v2 binary header has no bytes field', repr(m1))
    check(m1.payload == blob, 'v2 binary frame bytes equal the 5000 bytes sent',
          '%d bytes, first difference at %r' % (len(m1.payload),
                                                next((i for i, (x, y) in enumerate(zip(m1.payload, blob)) if x != y),
                                                     None)))
    m2 = a.wait_for(is_room_message, 'echo of the plain message')
    check(m2.kind == 'text' and m2.obj.get('seq') == seq1 + 1 and m2.obj.get('data') == plain_data
          and 'bytes' not in m2.obj, 'v2 echo of the plain message is a text frame with the next seq', repr(m2))

    # g. the v1 connection gets the text form (§19.2, §19.3) -------------------------------------------------
    n1 = b.wait_for(is_room_message, 'the bytes message (v1)')
    check(n1.kind == 'text', 'v1 gets the bytes message as a text frame', repr(n1)[:300])
    check(n1.obj.get('seq') == seq1 == b_head + 1 and n1.obj.get('epoch') == epoch,
          'v1 bytes message has the acked seq, right after joined.seq', repr(n1)[:300])
    check(n1.obj.get('data') == blob_data and n1.obj.get('from') == a_user, 'v1 bytes message has the same data',
          repr(n1)[:300])
    b64 = n1.obj.get('bytes')
    check(isinstance(b64, str) and len(b64) % 4 == 0, 'v1 bytes field is padded base64 text', repr(b64)[:80])
    try:
        decoded = base64.b64decode(b64, validate=True)  # standard alphabet only (RFC 4648 §4)
    except ValueError as e:
        raise CheckFailed('v1 bytes field is not standard base64: %s' % e)
    check(decoded == blob, 'v1 base64 bytes decode to the same 5000 bytes', '%d bytes' % len(decoded))
    check('data' in n1.keys and n1.keys.index('bytes') < n1.keys.index('data'),
          'v1 text form places bytes before data', 'key order %r' % n1.keys)
    n2 = b.wait_for(is_room_message, 'the plain message (v1)')
    check(n2.kind == 'text' and n2.obj.get('seq') == n1.obj['seq'] + 1 and n2.obj.get('data') == plain_data
          and 'bytes' not in n2.obj, 'v1 plain message follows with no gap in seq', repr(n2))

    # h. faults: a corrupt binary frame on v2, any binary frame on v1 -----------------------------------------
    header = json.dumps({'type': 'publish', 'room': ROOM, 'data': None}).encode('utf-8')
    corrupt = struct.pack('>I', len(header) + 100) + header + b'\x00\x01'  # N runs 98 bytes past the end
    a.take(lambda m: True)
    a.ws.send_binary(corrupt)
    code, reason, before = wait_close(a)
    before_msgs = [Message(op, p) for op, p in before]
    errs = errors_in(before_msgs)
    note('v2 corrupt binary frame: close %d %r; error(s) before the close: %r' % (code, reason, errs))
    check(code == 1007, 'v2 corrupt binary frame (header length past the end) closes 1007 (§4.2, §19.1)',
          'close %d %r' % (code, reason))

    b.take(lambda m: True)
    b.ws.send_binary(encode_binary({'type': 'publish', 'room': ROOM, 'data': None}, b'\x01\x02\x03'))
    code, reason, before = wait_close(b)
    before_msgs = [Message(op, p) for op, p in before]
    errs = errors_in(before_msgs)
    note('v1 binary frame: close %d %r; error(s) before the close: %r' % (code, reason, errs))
    check(code == 1003, 'v1 binary frame closes 1003 (§4.2, §14)', 'close %d %r' % (code, reason))

    print('all checks passed', flush=True)


if __name__ == '__main__':
    if len(sys.argv) != 2:
        print('usage: python3 %s <ws-url>' % sys.argv[0], file=sys.stderr)
        sys.exit(2)
    try:
        main(sys.argv[1])
    except CheckFailed as failure:
        print('FAIL: %s' % failure, flush=True)
        sys.exit(1)
    except Closed as closed:
        print('FAIL: connection closed unexpectedly: %d %r' % (closed.code, closed.reason), flush=True)
        sys.exit(1)
    except (socket.timeout, TimeoutError) as e:
        print('FAIL: timed out: %s' % e, flush=True)
        sys.exit(1)
    except Exception as e:  # anything else is a failure too, never a hang or a silent pass
        print('FAIL: %s: %s' % (type(e).__name__, e), flush=True)
        sys.exit(1)
    sys.exit(0)
