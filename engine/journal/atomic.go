package journal

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// WriteAtomic writes a file whole or not at all: into a temporary file beside it (mode perm), which
// is fsynced, renamed over path, and the directory fsynced, so a crash, a full disk or a failing
// write leaves either the old file or the new one, never a part. write streams the content. On
// an error before the rename the temporary file is removed and path is untouched; an error
// syncing the directory after the rename means the new file is in place but may not survive a
// power cut.
func WriteAtomic(path string, perm os.FileMode, write func(io.Writer) error) error {
	s, err := Stage(path, perm, write)
	if err != nil {
		return err
	}
	return s.Commit()
}

// WriteFileAtomic is WriteAtomic for content already in memory.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	return WriteAtomic(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// Staged is a file written whole and fsynced into a temporary file beside its path, not yet in
// place: Commit puts it there, Discard throws it away. Staging every file of a set before
// committing any lets a set of files (a validation's CSV and JSON) be kept all or none when the
// disk fills up.
type Staged struct {
	path, tmp string
	done      bool
}

// Path is where Commit puts the file.
func (s *Staged) Path() string { return s.path }

// Stage writes a file's content into a temporary file beside path (mode perm) and fsyncs it,
// through the writer the content is written to (see stage). On any error the temporary file is
// removed and the error names path.
func Stage(path string, perm os.FileMode, write func(io.Writer) error) (*Staged, error) {
	return stage(path, perm, write, nil)
}

// stage is Stage; through, when set, is what the content goes through instead of the temporary
// file (a test's disk that is full).
func stage(path string, perm os.FileMode, write func(io.Writer) error, through func(*os.File) io.Writer) (s *Staged, err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(perm); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	var dst io.Writer = tmp
	if through != nil {
		dst = through(tmp)
	}
	bw := bufio.NewWriterSize(dst, 64<<10)
	if err := write(bw); err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return nil, fmt.Errorf("write %s: fsync: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	return &Staged{path: path, tmp: tmp.Name()}, nil
}

// Commit renames the staged file over its path and fsyncs the directory. A failed rename removes
// the temporary file and leaves path as it was. Committing twice, or after Discard, is an error.
func (s *Staged) Commit() error {
	if s.done {
		return fmt.Errorf("write %s: already committed or discarded", s.path)
	}
	s.done = true
	if err := os.Rename(s.tmp, s.path); err != nil {
		_ = os.Remove(s.tmp)
		return fmt.Errorf("write %s: %w", s.path, err)
	}
	if err := syncDir(filepath.Dir(s.path)); err != nil {
		return fmt.Errorf("write %s: %w", s.path, err)
	}
	return nil
}

// Discard removes the staged file without putting it in place (nothing after Commit).
func (s *Staged) Discard() {
	if s == nil || s.done {
		return
	}
	s.done = true
	_ = os.Remove(s.tmp)
}
