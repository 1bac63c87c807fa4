package main

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

// newConfigCmd is "vigil config show|set": the group-wide settings (in
// Sentinel's key names), which every sidecar applies without a restart.
// Local-only keys stay in the configuration file (see check-config).
func newConfigCmd(o *adminOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Show or change the group-wide settings",
	}
	cmd.AddCommand(newConfigShowCmd(o), newConfigSetCmd(o))
	return cmd
}

func newConfigShowCmd(o *adminOptions) *cobra.Command {
	var out *output
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Show the group-wide settings",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			asJSON, err := out.asJSON()
			if err != nil {
				return err
			}
			var kv map[string]string
			if err := o.call(cmd.Context(), http.MethodGet, "/v1/config", nil, &kv); err != nil {
				return err
			}
			if asJSON {
				return printJSON(o.Stdout, kv)
			}
			return printSettings(o.Stdout, kv)
		},
	}
	out = bindOutput(cmd)
	return o.bind(cmd)
}

// printSettings renders settings as a sorted two-column table.
func printSettings(w io.Writer, kv map[string]string) error {
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SETTING\tVALUE")
	for _, k := range keys {
		v := kv[k]
		if k == "auth-pass" && v != "" {
			v = "********"
		}
		fmt.Fprintf(tw, "%s\t%s\n", k, v)
	}
	return tw.Flush()
}

func newConfigSetCmd(o *adminOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "set KEY=VALUE...",
		Short: "Change group-wide settings on every sidecar",
		Long: "Change group-wide settings on every sidecar, without a restart. Keys are Sentinel's:\n" +
			"down-after-milliseconds, quorum, parallel-syncs, failover-timeout. auth-pass is refused:\n" +
			"the Redis password never enters the replicated Raft log; set redis.password or\n" +
			"redis.password_file in each sidecar's configuration.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			kv := make(map[string]string, len(args))
			for _, a := range args {
				k, v, ok := strings.Cut(a, "=")
				if !ok || k == "" {
					return fmt.Errorf("%w: %q: want KEY=VALUE", errUsage, a)
				}
				kv[k] = v
			}
			if err := validateSettings(kv); err != nil {
				return fmt.Errorf("%w: %w", errUsage, err)
			}
			if err := o.call(cmd.Context(), http.MethodPost, "/v1/config", kv, &map[string]string{}); err != nil {
				return err
			}
			keys := make([]string, 0, len(kv))
			for k := range kv {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			_, err := fmt.Fprintf(o.Stdout, "group-wide settings changed: %s\n", strings.Join(keys, ", "))
			return err
		},
	}
	return o.bind(cmd)
}
