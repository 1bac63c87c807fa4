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
	bi := readBuildInfo()
	root := &cobra.Command{
		Use:           "vigil",
		Short:         "Failover sentinel sidecar and health monitor for Redis",
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
	}
	// --version is a flag of our own rather than cobra's Version field:
	// printing bi.String() through cobra needs SetVersionTemplate, and
	// text/template's reflective method calls make the linker keep every
	// exported method of every type in the binary (go-redis's hundreds of
	// commands among them), which costs several MiB of RSS per sidecar.
	showVersion := root.Flags().Bool("version", false, "print the version")
	root.RunE = func(cmd *cobra.Command, _ []string) error {
		if *showVersion {
			_, err := fmt.Fprintln(stdout, bi.String())
			return err
		}
		return cmd.Help()
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(flagError)
	admin := &adminOptions{Stdout: stdout}
	// Every command that talks to a sidecar takes its token from --token,
	// --token-file or $VIGIL_TOKEN.
	root.PersistentPreRunE = func(*cobra.Command, []string) error { return admin.resolve(environ) }
	root.AddCommand(
		newRunCmd(environ, stderr),
		newCheckConfigCmd(environ, stdout, stderr),
		newRecoverCmd(environ, stdout, stderr),
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
		newDivergentCmd(admin),
		newConfigCmd(admin),
	)
	usageArgs(root)
	return root
}

// buildInfo describes the binary for `vigil version` and vigil_build_info.
type buildInfo struct {
	Version, Revision, GoVersion string
}

// String is the one line `vigil version` and `vigil --version` print.
func (bi buildInfo) String() string {
	return fmt.Sprintf("vigil %s (revision %s, %s)", bi.Version, bi.Revision, bi.GoVersion)
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
			_, err := fmt.Fprintln(stdout, readBuildInfo().String())
			return err
		},
	}
}
