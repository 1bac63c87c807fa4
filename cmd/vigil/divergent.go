package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
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
	var out *output
	cmd := &cobra.Command{
		Use:   "ls",
		Short: "List the archives, oldest epoch first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			asJSON, err := out.asJSON()
			if err != nil {
				return err
			}
			var res struct {
				Archives []divergent.Manifest `json:"archives"`
			}
			if err := o.call(cmd.Context(), http.MethodGet, "/v1/divergent", nil, &res); err != nil {
				return err
			}
			if asJSON {
				return printJSON(o.Stdout, res)
			}
			return printArchives(o.Stdout, res.Archives)
		},
	}
	out = bindOutput(cmd)
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
	var out *output
	cmd := &cobra.Command{
		Use:   "show NAME",
		Short: "Show an archive's manifest, or with --resp its RESP file (for redis-cli --pipe)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			asJSON, err := out.asJSON()
			if err != nil {
				return err
			}
			if resp {
				return o.stream(cmd.Context(), divergentPath(args[0])+"/resp")
			}
			var m divergent.Manifest
			if err := o.call(cmd.Context(), http.MethodGet, divergentPath(args[0]), nil, &m); err != nil {
				return err
			}
			if asJSON {
				return printJSON(o.Stdout, m)
			}
			return printManifest(o.Stdout, m)
		},
	}
	cmd.Flags().BoolVar(&resp, "resp", false, "write the RESP file to standard output")
	out = bindOutput(cmd)
	return o.bind(cmd)
}

// printManifest renders one archive's manifest as a two-column table.
func printManifest(w io.Writer, m divergent.Manifest) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k string, v any) { fmt.Fprintf(tw, "%s\t%v\n", k, v) }
	fmt.Fprintln(tw, "FIELD\tVALUE")
	row("name", m.Name)
	row("state", m.State)
	row("epoch", m.Epoch)
	row("node", m.Node)
	row("redis_addr", m.Addr)
	row("fork", fmt.Sprintf("%s offset %d", m.OldReplID, m.ForkOffset))
	row("end_offset", m.EndOffset)
	row("bytes", m.Bytes)
	row("missing_bytes", m.Missing)
	row("commands", m.Commands)
	row("units", m.Units)
	db := strconv.Itoa(m.StartDB)
	if !m.StartDBKnown {
		db += " (assumed)"
	}
	row("start_db", db)
	if m.File != "" {
		row("file", fmt.Sprintf("%s (%d bytes)", m.File, m.FileBytes))
	}
	if m.Error != "" {
		row("error", m.Error)
	}
	row("created", m.CreatedAt.Local().Format(time.DateTime))
	row("updated", m.UpdatedAt.Local().Format(time.DateTime))
	if r := m.Replay; r != nil {
		row("replay", fmt.Sprintf("to %s at %s: %d units, %d applied, %d applied before, %d failed, %d command errors",
			r.Target, r.At.Local().Format(time.DateTime), r.Units, r.Applied, r.Duplicates, r.Failed, r.CommandErrors))
		for _, e := range r.Errors {
			row("replay_error", e)
		}
	}
	return tw.Flush()
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
