// Reading the log file back: a new engine's log ring starts with the newest lines the previous
// one wrote, each with its own time, so the cockpit's Logs pane and step details are never blank
// after a restart.

package engine

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"
)

// logTimeLayout is how LogLine.String writes a line's time.
const logTimeLayout = "2006-01-02T15:04:05.000Z"

// maxLogTailBytes bounds how much of the log file's end is read back.
const maxLogTailBytes = 4 << 20

// readLogTail reads up to n of the newest lines of the log file at path (none when it does not
// exist). isStep says which bracketed names are steps: a line the engine wrote without a step may
// itself begin with brackets. A line that is not in LogLine.String's form (a torn last line after
// a crash, the cut first line of the tail) is left out. The lines have no sequence numbers and
// are not marked as state narration (the file does not say).
func readLogTail(path string, n int, isStep func(string) bool) ([]LogLine, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	from := max(st.Size()-maxLogTailBytes, 0)
	buf := make([]byte, st.Size()-from)
	if _, err := f.ReadAt(buf, from); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if from > 0 {
		// The tail starts inside a line.
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			buf = buf[i+1:]
		} else {
			buf = nil
		}
	}
	// Every line ends with a newline: what follows the last one was torn by a crash.
	if i := bytes.LastIndexByte(buf, '\n'); i >= 0 {
		buf = buf[:i]
	} else {
		return nil, nil
	}
	raw := bytes.Split(buf, []byte{'\n'})
	out := make([]LogLine, 0, min(len(raw), n))
	for i := len(raw) - 1; i >= 0 && len(out) < n; i-- {
		if l, ok := parseLogLine(string(raw[i]), isStep); ok {
			out = append(out, l)
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

// parseLogLine reads one line as LogLine.String wrote it: time, level padded to five, the step
// (and stream) in brackets when there is one, the message.
func parseLogLine(s string, isStep func(string) bool) (LogLine, bool) {
	if len(s) < len(logTimeLayout)+7 || s[len(logTimeLayout)] != ' ' {
		return LogLine{}, false
	}
	at, err := time.Parse(logTimeLayout, s[:len(logTimeLayout)])
	if err != nil || at.Format(logTimeLayout) != s[:len(logTimeLayout)] {
		return LogLine{}, false
	}
	rest := s[len(logTimeLayout)+1:]
	level, ok := parseLevel(strings.TrimRight(rest[:5], " "))
	if !ok || rest[5] != ' ' {
		return LogLine{}, false
	}
	l := LogLine{Time: at, Level: level}
	rest = rest[5:]
	if strings.HasPrefix(rest, " [") {
		if end := strings.IndexByte(rest, ']'); end > 0 {
			// "[step]" or "[step stdout]"/"[step stderr]", exactly as String writes them; anything
			// else in brackets ("[drain ]") is the message's.
			step, stream, hasStream := strings.Cut(rest[2:end], " ")
			if isStep(step) && (!hasStream || stream == "stdout" || stream == "stderr") {
				l.Step, l.Stream = step, stream
				rest = rest[end+1:]
			}
		}
	}
	if !strings.HasPrefix(rest, " ") {
		return LogLine{}, false
	}
	l.Msg = rest[1:]
	return l, true
}

// parseLevel reads a level's word.
func parseLevel(w string) (LogLevel, bool) {
	for i, lw := range levelWords {
		if lw == w {
			return LogLevel(i), true
		}
	}
	return 0, false
}
