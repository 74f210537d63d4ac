//go:build windows

package svc

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/sys/windows"
	winsvc "golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/mgr"
)

// SCMServices controls services through the Windows service control manager of each host
// (mgr.ConnectRemote needs administrator rights on the AOS hosts).
type SCMServices struct{}

// NewSCMServices returns the Windows service-manager controller.
func NewSCMServices() (Controller, error) { return SCMServices{}, nil }

func open(host, service string) (*mgr.Mgr, *mgr.Service, error) {
	m, err := mgr.ConnectRemote(host)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to the service manager of %s: %w", host, err)
	}
	s, err := m.OpenService(service)
	if err != nil {
		m.Disconnect()
		return nil, nil, fmt.Errorf("open %s on %s: %w", service, host, err)
	}
	return m, s, nil
}

// Stop sends the stop control.
func (SCMServices) Stop(_ context.Context, host, service string) error {
	m, s, err := open(host, service)
	if err != nil {
		return err
	}
	defer m.Disconnect()
	defer s.Close()
	if _, err := s.Control(winsvc.Stop); err != nil {
		if errors.Is(err, windows.ERROR_SERVICE_NOT_ACTIVE) {
			return nil
		}
		return fmt.Errorf("stop %s on %s: %w", service, host, err)
	}
	return nil
}

// Start starts the service (StartService).
func (SCMServices) Start(_ context.Context, host, service string) error {
	m, s, err := open(host, service)
	if err != nil {
		return err
	}
	defer m.Disconnect()
	defer s.Close()
	if err := s.Start(); err != nil {
		if errors.Is(err, windows.ERROR_SERVICE_ALREADY_RUNNING) {
			return nil
		}
		return fmt.Errorf("start %s on %s: %w", service, host, err)
	}
	return nil
}

// State queries the service.
func (SCMServices) State(_ context.Context, host, service string) (State, string, error) {
	m, s, err := open(host, service)
	if err != nil {
		return Unknown, "", err
	}
	defer m.Disconnect()
	defer s.Close()
	st, err := s.Query()
	if err != nil {
		return Unknown, "", fmt.Errorf("query %s on %s: %w", service, host, err)
	}
	switch st.State {
	case winsvc.Stopped:
		return Stopped, "STOPPED", nil
	case winsvc.StartPending:
		return StartPending, "START_PENDING", nil
	case winsvc.StopPending:
		return StopPending, "STOP_PENDING", nil
	case winsvc.Running:
		return Running, "RUNNING", nil
	case winsvc.Paused, winsvc.PausePending, winsvc.ContinuePending:
		return Paused, "PAUSED", nil
	}
	return Unknown, fmt.Sprintf("state %d", st.State), nil
}
