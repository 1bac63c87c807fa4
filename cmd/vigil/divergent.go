package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigil-redis/vigil/failover/divergent"
)

// newDivergentCmd is "vigil divergent": the archives of writes former
// primaries acknowledged after a failover's fork point.
func newDivergentCmd(o *adminOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "divergent",
		Short: "Inspect, replay and remove a sidecar's archives of a former primary's divergent writes",
	}
	cmd.AddCommand(newDivergentLsCmd(o), newDivergentShowCmd(o), newDivergentReplayCmd(o), newDivergentRmCmd(o))
	return cmd
}

func divergentPath(name string) string { return "/v1/divergent/" + url.PathEscape(name) }

func newDivergentLsCmd(o *adminOptions) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "ls",
		Short: "List the archives, oldest epoch first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var out struct {
				Archives []divergent.Manifest `json:"archives"`
			}
			if err := o.call(cmd.Context(), http.MethodGet, "/v1/divergent", nil, &out); err != nil {
				return err
			}
			if asJSON {
				return printJSON(o.Stdout, out)
			}
			return printArchives(o.Stdout, out.Archives)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the raw JSON")
	return o.bind(cmd)
}

// printArchives renders manifests as a table.
func printArchives(w io.Writer, ms []divergent.Manifest) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATE\tEPOCH\tNODE\tCOMMANDS\tBYTES\tMISSING\tCREATED\tNOTE")
	for _, m := range ms {
		note := ""
		switch {
		case m.Missing > 0:
			note = fmt.Sprintf("%d bytes lost: backlog too short", m.Missing)
		case m.Replay != nil && !m.Replay.Complete():
			note = fmt.Sprintf("replay: %d of %d units failed", m.Replay.Failed, m.Replay.Units)
		case m.Replay != nil && m.Replay.CommandErrors > 0:
			note = fmt.Sprintf("replay: %d command errors", m.Replay.CommandErrors)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\t%d\t%d\t%s\t%s\n", m.Name, m.State, m.Epoch, m.Node, m.Commands,
			m.Bytes, m.Missing, m.CreatedAt.Local().Format(time.DateTime), note)
	}
	return tw.Flush()
}

func newDivergentShowCmd(o *adminOptions) *cobra.Command {
	var resp bool
	cmd := &cobra.Command{
		Use:   "show NAME",
		Short: "Show an archive's manifest, or with --resp its RESP file (for redis-cli --pipe)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if resp {
				return o.stream(cmd.Context(), divergentPath(args[0])+"/resp")
			}
			var m divergent.Manifest
			if err := o.call(cmd.Context(), http.MethodGet, divergentPath(args[0]), nil, &m); err != nil {
				return err
			}
			return printJSON(o.Stdout, m)
		},
	}
	cmd.Flags().BoolVar(&resp, "resp", false, "write the RESP file to standard output")
	return o.bind(cmd)
}

func newDivergentReplayCmd(o *adminOptions) *cobra.Command {
	var to string
	var force bool
	cmd := &cobra.Command{
		Use:   "replay NAME",
		Short: "Apply an archive to the primary, each write at most once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var m divergent.Manifest
			body := map[string]any{"to": to, "force": force}
			if err := o.call(cmd.Context(), http.MethodPost, divergentPath(args[0])+"/replay", body, &m); err != nil {
				return err
			}
			r := m.Replay
			_, err := fmt.Fprintf(o.Stdout, "replayed %s to %s: %d units, %d applied, %d applied before, %d command errors\n",
				m.Name, r.Target, r.Units, r.Applied, r.Duplicates, r.CommandErrors)
			return err
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "Redis `ADDR` to apply it to (default: the current primary)")
	cmd.Flags().BoolVar(&force, "force", false, "replay an archive already replayed (writes whose marker still exists are skipped)")
	return o.bind(cmd)
}

func newDivergentRmCmd(o *adminOptions) *cobra.Command {
	var keep bool
	cmd := &cobra.Command{
		Use:   "rm NAME...",
		Short: "Delete archives (with --keep-files: mark them dismissed and keep them)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, name := range args {
				if keep {
					if err := o.call(cmd.Context(), http.MethodPost, divergentPath(name)+"/dismiss", nil, &divergent.Manifest{}); err != nil {
						return err
					}
					fmt.Fprintf(o.Stdout, "dismissed %s\n", name)
					continue
				}
				if err := o.call(cmd.Context(), http.MethodDelete, divergentPath(name), nil, &struct{}{}); err != nil {
					return err
				}
				fmt.Fprintf(o.Stdout, "deleted %s\n", name)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&keep, "keep-files", false, "mark dismissed instead of deleting")
	return o.bind(cmd)
}

// stream copies the body of a GET to standard output without a size
// limit: an archive can be as large as the primary's backlog.
func (o *adminOptions) stream(ctx context.Context, path string) error {
	base := o.baseURL()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	if err != nil {
		return fmt.Errorf("%w: --addr %q: %w", errUsage, o.Addr, err)
	}
	if o.Token != "" {
		req.Header.Set("Authorization", "Bearer "+o.Token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("sidecar at %s: %w", base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return fmt.Errorf("sidecar at %s: GET %s: %s", base, path, strings.TrimSpace(string(b)))
	}
	if _, err := io.Copy(o.Stdout, resp.Body); err != nil {
		return fmt.Errorf("sidecar at %s: %w", base, err)
	}
	return nil
}
