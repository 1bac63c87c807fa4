package main

import (
	"errors"
	"fmt"
	"io"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// errUsage marks command-line mistakes, which exit with status 2.
var errUsage = errors.New("usage")

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func newRootCmd(environ []string, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "vigil",
		Short:         "Failover sentinel sidecar and health monitor for Redis",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%w: %w (see %s --help)", errUsage, err, c.CommandPath())
	})
	admin := &adminOptions{Stdout: stdout}
	root.AddCommand(
		newRunCmd(environ, stderr),
		newCheckConfigCmd(environ, stdout),
		newVersionCmd(stdout),
		newDemoCmd(stdout, stderr),
		newStatusCmd(admin),
		newHistoryCmd(admin),
		newSwitchoverCmd(admin),
		newHandoverCmd(admin),
		newPauseCmd(admin, true),
		newPauseCmd(admin, false),
		newForgetCmd(admin),
		newRetryqCmd(admin),
	)
	return root
}

// buildInfo describes the binary for `vigil version` and vigil_build_info.
type buildInfo struct {
	Version, Revision, GoVersion string
}

func readBuildInfo() buildInfo {
	bi := buildInfo{Version: version, Revision: "unknown", GoVersion: "unknown"}
	if info, ok := debug.ReadBuildInfo(); ok {
		bi.GoVersion = info.GoVersion
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" {
				bi.Revision = s.Value
			}
		}
	}
	return bi
}

func newVersionCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			bi := readBuildInfo()
			_, err := fmt.Fprintf(stdout, "vigil %s (revision %s, %s)\n", bi.Version, bi.Revision, bi.GoVersion)
			return err
		},
	}
}
