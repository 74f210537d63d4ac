// Package svc is the operating-system control the engine's command and aos steps use: process
// groups (start a command with every process it spawns marked, kill the group, find and kill
// what an interrupted attempt left running after a crash) and Windows service control (sc.exe or
// PowerShell command templates, or the Windows service control manager). It knows nothing of the
// engine; the engine's ports name its types.
package svc
