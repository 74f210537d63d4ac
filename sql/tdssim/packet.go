package tdssim

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
)

// packetType is the TDS packet header Type byte (MS-TDS 2.2.3.1.1).
type packetType byte

const (
	pktSQLBatch  packetType = 0x01
	pktRPC       packetType = 0x03
	pktReply     packetType = 0x04
	pktAttention packetType = 0x06
	pktBulkLoad  packetType = 0x07
	pktFedAuth   packetType = 0x08
	pktTransMgr  packetType = 0x0E
	pktLogin7    packetType = 0x10
	pktSSPI      packetType = 0x11
	pktPrelogin  packetType = 0x12
)

// Packet header status bits (MS-TDS 2.2.3.1.2).
const (
	statusEOM               byte = 0x01
	statusIgnore            byte = 0x02
	statusResetConn         byte = 0x08
	statusResetConnSkipTran byte = 0x10
)

const (
	headerLen         = 8
	minPacketSize     = 512
	maxPacketSize     = 32767
	defaultPacketSize = 4096
	// handshakePacketSize is used for PRELOGIN-wrapped TLS records, before
	// the client's packet size is known. 512 is the smallest size any
	// client accepts.
	handshakePacketSize = 512
	defaultMaxMessage   = 64 << 20
)

// errProtocol marks a framing or sequencing violation by the client; the
// connection is closed.
var errProtocol = errors.New("tdssim: protocol violation")

// message is one reassembled client message.
type message struct {
	typ    packetType
	status byte // OR of all packet statuses, EOM removed
	data   []byte
}

// packetReader reads TDS packets and reassembles messages from r.
type packetReader struct {
	r          io.Reader
	maxMessage int
	// afterFirst, when set, runs once after the next packet has been read.
	// It implements the "login only" TLS mode, where only the first LOGIN7
	// packet is encrypted.
	afterFirst func()
	hdr        [headerLen]byte
}

func (p *packetReader) readPacket() (packetType, byte, []byte, error) {
	if _, err := io.ReadFull(p.r, p.hdr[:]); err != nil {
		return 0, 0, nil, err
	}
	length := int(binary.BigEndian.Uint16(p.hdr[2:4]))
	if length < headerLen {
		return 0, 0, nil, fmt.Errorf("%w: packet length %d shorter than header", errProtocol, length)
	}
	typ, status := packetType(p.hdr[0]), p.hdr[1]
	payload := make([]byte, length-headerLen)
	if _, err := io.ReadFull(p.r, payload); err != nil {
		return 0, 0, nil, err
	}
	if f := p.afterFirst; f != nil {
		p.afterFirst = nil
		f()
	}
	return typ, status, payload, nil
}

// readMessage reads packets until one carries EOM.
func (p *packetReader) readMessage() (message, error) {
	var m message
	limit := p.maxMessage
	if limit <= 0 {
		limit = defaultMaxMessage
	}
	for first := true; ; first = false {
		typ, status, payload, err := p.readPacket()
		if err != nil {
			return m, err
		}
		if first {
			m.typ = typ
			m.data = payload
		} else {
			if typ != m.typ {
				return m, fmt.Errorf("%w: packet type changed mid-message (%#x then %#x)", errProtocol, byte(m.typ), byte(typ))
			}
			if len(m.data)+len(payload) > limit {
				return m, fmt.Errorf("%w: message larger than %d bytes", errProtocol, limit)
			}
			m.data = append(m.data, payload...)
		}
		m.status |= status &^ statusEOM
		if status&statusEOM != 0 {
			return m, nil
		}
	}
}

// packetWriter writes whole packets to w. It is safe for concurrent use.
type packetWriter struct {
	mu   sync.Mutex
	w    io.Writer
	spid uint16
	size int // maximum packet length including the header
	sent *atomic.Int64
}

func (pw *packetWriter) setWriter(w io.Writer) {
	pw.mu.Lock()
	pw.w = w
	pw.mu.Unlock()
}

func (pw *packetWriter) setSize(n int) {
	pw.mu.Lock()
	pw.size = n
	pw.mu.Unlock()
}

func (pw *packetWriter) packetSize() int {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	return pw.size
}

func (pw *packetWriter) writePacket(typ packetType, status, id byte, payload []byte) error {
	pkt := make([]byte, headerLen+len(payload))
	pkt[0] = byte(typ)
	pkt[1] = status
	binary.BigEndian.PutUint16(pkt[2:], uint16(len(pkt)))
	pw.mu.Lock()
	defer pw.mu.Unlock()
	binary.BigEndian.PutUint16(pkt[4:], pw.spid)
	pkt[6] = id
	copy(pkt[headerLen:], payload)
	if _, err := pw.w.Write(pkt); err != nil {
		return fmt.Errorf("tdssim: write packet: %w", err)
	}
	if pw.sent != nil {
		pw.sent.Add(int64(len(pkt)))
	}
	return nil
}

// msgWriter streams one server message: tokens are appended to buf and
// sent in packets no larger than the negotiated size. Every packet except
// the last has status 0x00; the last has EOM. It is used by one goroutine
// at a time.
type msgWriter struct {
	pw   *packetWriter
	typ  packetType
	size int
	buf  []byte
	id   byte
	sent int // packets sent
}

func newMsgWriter(pw *packetWriter, typ packetType, size int) *msgWriter {
	if size < minPacketSize {
		size = minPacketSize
	}
	return &msgWriter{pw: pw, typ: typ, size: size, id: 1}
}

func (m *msgWriter) maxPayload() int { return m.size - headerLen }

func (m *msgWriter) send(payload []byte, status byte) error {
	err := m.pw.writePacket(m.typ, status, m.id, payload)
	m.id++
	m.sent++
	return err
}

// flushFull sends full packets while more than one packet's worth is
// buffered, so at least one byte always remains for the final packet.
func (m *msgWriter) flushFull() error {
	max := m.maxPayload()
	off := 0
	for len(m.buf)-off > max {
		if err := m.send(m.buf[off:off+max], 0); err != nil {
			return err
		}
		off += max
	}
	if off > 0 {
		m.buf = append(m.buf[:0], m.buf[off:]...)
	}
	return nil
}

// flushAll sends everything buffered as non-final packets.
func (m *msgWriter) flushAll() error {
	if err := m.flushFull(); err != nil {
		return err
	}
	if len(m.buf) == 0 {
		return nil
	}
	err := m.send(m.buf, 0)
	m.buf = m.buf[:0]
	return err
}

// finish sends the buffered bytes, the last packet carrying EOM. An empty
// buffer sends nothing (an empty final packet would confuse the client).
func (m *msgWriter) finish() error {
	if len(m.buf) == 0 {
		return nil
	}
	if err := m.flushFull(); err != nil {
		return err
	}
	err := m.send(m.buf, statusEOM)
	m.buf = m.buf[:0]
	return err
}
