package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigil-redis/vigil/failover"
	"github.com/vigil-redis/vigil/monitor"
)

// adminOptions are the flags every command that talks to a running
// sidecar shares.
type adminOptions struct {
	Addr   string // sidecar HTTP base URL
	Token  string // http.admin_token of the sidecar
	Stdout io.Writer
	// TokenFile holds the token (--token-file); $VIGIL_TOKEN is used when
	// neither is given. CAFile (--cacert) verifies an https sidecar.
	TokenFile, CAFile string
}

// bind adds --addr and --token to cmd.
func (o *adminOptions) bind(cmd *cobra.Command) *cobra.Command {
	cmd.Flags().StringVar(&o.Addr, "addr", "http://127.0.0.1:9380", "HTTP `URL` of the sidecar")
	cmd.Flags().StringVar(&o.Token, "token", "", "admin bearer token (http.admin_token); prefer --token-file or $"+tokenEnv)
	cmd.Flags().StringVar(&o.TokenFile, "token-file", "", "`file` holding the bearer token")
	cmd.Flags().StringVar(&o.CAFile, "cacert", "", "PEM CA `file` for a sidecar serving https (http.tls)")
	return cmd
}

// baseURL is --addr with a scheme, without a trailing slash.
func (o *adminOptions) baseURL() string {
	base := strings.TrimRight(o.Addr, "/")
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	return base
}

// call sends one request to the sidecar and decodes a JSON answer into out
// (when out is not nil). Non-2xx answers become errors carrying the body.
func (o *adminOptions) call(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	base := o.baseURL()
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		return fmt.Errorf("%w: --addr %q: %w", errUsage, o.Addr, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if o.Token != "" {
		req.Header.Set("Authorization", "Bearer "+o.Token)
	}
	// A sidecar that reads the request only after this call gave up (it
	// was stopped) refuses it rather than carry it out behind the
	// operator's back.
	if d, ok := ctx.Deadline(); ok {
		req.Header.Set(failover.DeadlineHeader, d.UTC().Format(time.RFC3339Nano))
	}
	hc, err := o.httpClient()
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("sidecar at %s: %w", base, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return fmt.Errorf("sidecar at %s: %w", base, err)
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("sidecar at %s: %s %s: %s", base, method, path, strings.TrimSpace(string(b)))
	}
	if out == nil {
		_, err = o.Stdout.Write(b)
		return err
	}
	return json.Unmarshal(b, out)
}

// printJSON writes v as indented JSON, for the --json flags.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newStatusCmd(o *adminOptions) *cobra.Command {
	var out *output
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show a running sidecar's view of the group",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			asJSON, err := out.asJSON()
			if err != nil {
				return err
			}
			var st Status
			if err := o.call(cmd.Context(), http.MethodGet, "/v1/status", nil, &st); err != nil {
				return err
			}
			if asJSON {
				return printJSON(o.Stdout, st)
			}
			return printStatus(o.Stdout, st)
		},
	}
	out = bindOutput(cmd)
	return o.bind(cmd)
}

// printStatus renders a status as the table operators read.
func printStatus(w io.Writer, st Status) error {
	t := st.Topology
	primary := t.Primary.Name
	if primary == "" {
		primary = "(none)"
	} else {
		primary += " " + t.Primary.Addr
	}
	leader := t.Leader
	if leader == "" {
		leader = "(none)"
	}
	fmt.Fprintf(w, "group %s  epoch %d  primary %s  writable %v  leader %s", t.MasterName, t.Epoch, primary, t.Writable, leader)
	if t.Isolated {
		fmt.Fprint(w, "  CUT OFF")
	}
	if t.Paused {
		fmt.Fprint(w, "  PAUSED")
	}
	if t.Fenced {
		fmt.Fprint(w, "  FENCED")
	}
	if t.InFailover {
		fmt.Fprint(w, "  FAILOVER IN PROGRESS")
	}
	fmt.Fprintln(w)
	// The effective group-wide settings (the replicated ones where set, the
	// file's otherwise), so a SENTINEL SET or vigil config set shows here.
	fmt.Fprintf(w, "settings  quorum %d  down_after %s  failover_timeout %s  parallel_syncs %d\n",
		t.Quorum, t.DownAfter, t.FailoverTimeout, t.ParallelSyncs)
	if t.Leader == "" {
		// Nothing commits without a leader: no failover, switchover or
		// forget. A majority lost for good needs the operator.
		fmt.Fprintln(w, "no Raft leader: nothing can commit while a majority of the voters is out of reach; if it is gone for good, see vigil recover --help")
	}
	if t.WhyNot != "" {
		fmt.Fprintf(w, "no promotable replica: %s\n", t.WhyNot)
	}
	if t.Conflict != "" {
		fmt.Fprintf(w, "conflict: %s\n", t.Conflict)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tREDIS\tROLE\tOFFSET\tLINK\tSYNCED\tPRIO\tREACHABLE\tSIDECAR")
	var rows []failover.Node
	if t.Primary.Name != "" {
		rows = append(rows, t.Primary)
	}
	rows = append(rows, t.Replicas...)
	for _, n := range rows {
		role := string(n.Role)
		if role == "" {
			role = "?"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%d\t%v\t%s\n",
			n.Name, n.Addr, role, n.Offset, updown(n.LinkUp, n.Role), synced(n), n.Priority, n.Reachable, orDash(n.Member))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "seen from %s at %s\n", st.Node, st.Time.Format(time.RFC3339))
	return err
}

// synced shows whether a replica finished its initial sync; a primary
// syncs from nobody.
func synced(n failover.Node) string {
	if n.Role == monitor.RolePrimary {
		return "-"
	}
	return fmt.Sprint(n.Synced)
}

// updown shows a replica's link; a primary has none.
func updown(up bool, role monitor.Role) string {
	if role == monitor.RolePrimary {
		return "-"
	}
	if up {
		return "up"
	}
	return "down"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func newHistoryCmd(o *adminOptions) *cobra.Command {
	var out *output
	cmd := &cobra.Command{
		Use:   "history",
		Short: "Show the group's recent failovers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			asJSON, err := out.asJSON()
			if err != nil {
				return err
			}
			var h []failover.HistoryEntry
			if err := o.call(cmd.Context(), http.MethodGet, "/v1/history", nil, &h); err != nil {
				return err
			}
			if asJSON {
				return printJSON(o.Stdout, h)
			}
			return printHistory(o.Stdout, h)
		},
	}
	out = bindOutput(cmd)
	return o.bind(cmd)
}

// printHistory renders failovers as a table, oldest first.
func printHistory(w io.Writer, h []failover.HistoryEntry) error {
	if len(h) == 0 {
		_, err := fmt.Fprintln(w, "no failovers recorded")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "EPOCH\tSTART\tOLD\tNEW\tREASON\tDURATION\tRESULT\tERROR")
	for _, e := range h {
		start := "-"
		if !e.Start.IsZero() {
			start = e.Start.Local().Format(time.DateTime)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Epoch, start, orDash(e.Old), orDash(e.New), e.Reason,
			e.Duration.Round(time.Millisecond), e.Result, orDash(shorten(e.Error, 60)))
	}
	return tw.Flush()
}

func newSwitchoverCmd(o *adminOptions) *cobra.Command {
	var to string
	cmd := &cobra.Command{
		Use:   "switchover",
		Short: "Move the primary role to a replica without losing acknowledged writes",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var c failover.Configuration
			if err := o.call(cmd.Context(), http.MethodPost, "/v1/switchover", map[string]string{"to": to}, &c); err != nil {
				return err
			}
			_, err := fmt.Fprintf(o.Stdout, "switchover complete: the primary is %s (%s) at epoch %d\n", c.Primary, c.PrimaryAddr, c.Epoch)
			return err
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "node to promote (default: the best replica)")
	return o.bind(cmd)
}

func newHandoverCmd(o *adminOptions) *cobra.Command {
	return o.bind(&cobra.Command{
		Use:   "handover",
		Short: "If this sidecar's node is the primary, switch over to the best replica (for a preStop hook)",
		Long: "handover asks the local sidecar to hand its primary role over to the best replica, bounded by " +
			"failover.shutdown_handover, before the node is stopped. On a replica it returns at once.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.call(cmd.Context(), http.MethodPost, "/v1/handover", nil, nil)
		},
	})
}

func newPauseCmd(o *adminOptions, pause bool) *cobra.Command {
	use, short, path := "pause", "Stop automatic failover for the whole group", "/v1/pause"
	if !pause {
		use, short, path = "resume", "Resume automatic failover", "/v1/resume"
	}
	return o.bind(&cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var c failover.Configuration
			if err := o.call(cmd.Context(), http.MethodPost, path, nil, &c); err != nil {
				return err
			}
			msg := "automatic failover resumed for the group"
			if c.Paused {
				msg = "automatic failover paused for the group (switchover still works)"
			}
			_, err := fmt.Fprintln(o.Stdout, msg)
			return err
		},
	})
}

func newForgetCmd(o *adminOptions) *cobra.Command {
	return o.bind(&cobra.Command{
		Use:   "forget NODE",
		Short: "Remove a departed sidecar from the group's voters (committed through the Raft leader)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.call(cmd.Context(), http.MethodPost, "/v1/forget", map[string]string{"node": args[0]}, &struct{}{}); err != nil {
				return err
			}
			_, err := fmt.Fprintf(o.Stdout, "forgot %s: it no longer counts toward the majority\n", args[0])
			return err
		},
	})
}
