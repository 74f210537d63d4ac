//go:build windows

package engine

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/mgr"
)

// SCMServices controls services through the Windows service control manager of each host
// (mgr.ConnectRemote needs administrator rights on the AOS hosts).
type SCMServices struct{}

// NewSCMServices returns the Windows service-manager controller.
func NewSCMServices() (ServiceController, error) { return SCMServices{}, nil }

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
	if _, err := s.Control(svc.Stop); err != nil {
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
func (SCMServices) State(_ context.Context, host, service string) (ServiceState, string, error) {
	m, s, err := open(host, service)
	if err != nil {
		return ServiceUnknown, "", err
	}
	defer m.Disconnect()
	defer s.Close()
	st, err := s.Query()
	if err != nil {
		return ServiceUnknown, "", fmt.Errorf("query %s on %s: %w", service, host, err)
	}
	switch st.State {
	case svc.Stopped:
		return ServiceStopped, "STOPPED", nil
	case svc.StartPending:
		return ServiceStartPending, "START_PENDING", nil
	case svc.StopPending:
		return ServiceStopPending, "STOP_PENDING", nil
	case svc.Running:
		return ServiceRunning, "RUNNING", nil
	case svc.Paused, svc.PausePending, svc.ContinuePending:
		return ServicePaused, "PAUSED", nil
	}
	return ServiceUnknown, fmt.Sprintf("state %d", st.State), nil
}
