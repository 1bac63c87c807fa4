package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigil-redis/vigil/retryq/client"
)

// newRetryqCmd is "vigil retryq": the retry queue's admin commands over a
// running sidecar's HTTP API.
func newRetryqCmd(o *adminOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "retryq",
		Short: "Inspect and manage a sidecar's retry queue",
	}
	cmd.AddCommand(
		newRetryqLsCmd(o), newRetryqShowCmd(o), newRetryqRequeueCmd(o), newRetryqRmCmd(o),
		newRetryqPurgeCmd(o), newRetryqStatsCmd(o), newRetryqExportCmd(o),
	)
	return cmd
}

// retryqClient builds a client for the sidecar named by --addr.
func retryqClient(o *adminOptions) *client.Client {
	hc, _ := o.httpClient() // resolve, run before every command, checked --cacert
	return client.New(o.baseURL(), o.Token, hc)
}

func newRetryqLsCmd(o *adminOptions) *cobra.Command {
	var opts client.ListOptions
	var state string
	var out *output
	cmd := &cobra.Command{
		Use:   "ls",
		Short: "List queued items in queue order",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			asJSON, err := out.asJSON()
			if err != nil {
				return err
			}
			opts.State = client.State(state)
			items, err := retryqClient(o).List(cmd.Context(), opts)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(o.Stdout, items)
			}
			return printItems(o.Stdout, items)
		},
	}
	out = bindOutput(cmd)
	cmd.Flags().StringVar(&state, "state", "", "only items in `STATE`: ready, inflight or dead")
	cmd.Flags().IntVar(&opts.Limit, "limit", 100, "list at most `N` items")
	cmd.Flags().StringVar(&opts.After, "after", "", "continue after the item with this `ID`")
	return o.bind(cmd)
}

// printItems renders items as a table.
func printItems(w io.Writer, items []client.Item) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tPRIO\tATTEMPTS\tENQUEUED\tNEXT\tCOMMAND\tLAST ERROR")
	for _, it := range items {
		next := "-"
		if !it.NextAttemptAt.IsZero() {
			next = it.NextAttemptAt.Local().Format(time.TimeOnly)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d/%d\t%s\t%s\t%s\t%s\n", it.ID, it.State, it.Priority, it.Attempts, it.MaxAttempts,
			it.EnqueuedAt.Local().Format(time.DateTime), next, shortCommand(it.Command), shorten(it.LastError, 60))
	}
	return tw.Flush()
}

// shortCommand quotes a command for one table cell.
func shortCommand(args [][]byte) string {
	parts := make([]string, 0, len(args))
	for _, a := range args {
		s := string(a)
		if strings.ContainsAny(s, " \t\n\"") || !strconv.CanBackquote(s) || s == "" {
			s = strconv.Quote(s)
		}
		parts = append(parts, s)
	}
	return shorten(strings.Join(parts, " "), 60)
}

func shorten(s string, n int) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}

func newRetryqShowCmd(o *adminOptions) *cobra.Command {
	var out *output
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show one item",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			asJSON, err := out.asJSON()
			if err != nil {
				return err
			}
			it, err := retryqClient(o).Get(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(o.Stdout, it)
			}
			return printItem(o.Stdout, it)
		},
	}
	out = bindOutput(cmd)
	return o.bind(cmd)
}

func newRetryqRequeueCmd(o *adminOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "requeue ID...",
		Short: "Make items ready again with their attempts reset (dead letters included)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := retryqClient(o)
			for _, id := range args {
				if _, err := c.Requeue(cmd.Context(), id); err != nil {
					return err
				}
				fmt.Fprintf(o.Stdout, "requeued %s\n", id)
			}
			return nil
		},
	}
	return o.bind(cmd)
}

func newRetryqRmCmd(o *adminOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rm ID...",
		Short: "Delete items that are not being replayed",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := retryqClient(o)
			for _, id := range args {
				if err := c.Delete(cmd.Context(), id); err != nil {
					return err
				}
				fmt.Fprintf(o.Stdout, "deleted %s\n", id)
			}
			return nil
		},
	}
	return o.bind(cmd)
}

func newRetryqPurgeCmd(o *adminOptions) *cobra.Command {
	var state string
	cmd := &cobra.Command{
		Use:   "purge",
		Short: "Delete every dead letter (or, with --state ready, every waiting item)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			n, err := retryqClient(o).Purge(cmd.Context(), client.State(state))
			if err != nil {
				return err
			}
			fmt.Fprintf(o.Stdout, "deleted %d %s items\n", n, state)
			return nil
		},
	}
	cmd.Flags().StringVar(&state, "state", string(client.StateDead), "purge items in `STATE`: dead or ready")
	return o.bind(cmd)
}

func newRetryqStatsCmd(o *adminOptions) *cobra.Command {
	var out *output
	cmd := &cobra.Command{
		Use:   "stats",
		Short: "Show the queue's counts, limits and counters",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			asJSON, err := out.asJSON()
			if err != nil {
				return err
			}
			s, err := retryqClient(o).Stats(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(o.Stdout, s)
			}
			return printRetryqStats(o.Stdout, s)
		},
	}
	out = bindOutput(cmd)
	return o.bind(cmd)
}

// printRetryqStats renders stats as a two-column table.
func printRetryqStats(w io.Writer, s client.Stats) error {
	primary := s.Primary
	if primary == "" {
		primary = "(none writable)"
	}
	oldest := "-"
	if s.OldestEnqueuedAt != nil {
		oldest = fmt.Sprintf("%s (%s ago)", s.OldestEnqueuedAt.Local().Format(time.DateTime),
			time.Since(*s.OldestEnqueuedAt).Round(time.Second))
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, row := range [][2]string{
		{"primary", primary},
		{"ready", strconv.Itoa(s.Ready)},
		{"inflight", strconv.Itoa(s.Inflight)},
		{"dead", strconv.Itoa(s.Dead)},
		{"items", fmt.Sprintf("%d of %d", s.Items, s.MaxItems)},
		{"bytes", fmt.Sprintf("%d of %d", s.Bytes, s.MaxBytes)},
		{"oldest", oldest},
		{"enqueued", strconv.FormatUint(s.Enqueued, 10)},
		{"replayed", strconv.FormatUint(s.Replayed, 10)},
		{"failed", strconv.FormatUint(s.Failed, 10)},
		{"dead-lettered", strconv.FormatUint(s.DeadLettered, 10)},
		{"rejected", strconv.FormatUint(s.Rejected, 10)},
	} {
		fmt.Fprintf(tw, "%s\t%s\n", row[0], row[1])
	}
	return tw.Flush()
}

func newRetryqExportCmd(o *adminOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Write every dead letter as JSON lines to standard output",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return retryqClient(o).Export(cmd.Context(), o.Stdout)
		},
	}
	return o.bind(cmd)
}

// printItem renders one item as a two-column table, the command in full.
func printItem(w io.Writer, it client.Item) error {
	next := "-"
	if !it.NextAttemptAt.IsZero() {
		next = it.NextAttemptAt.Local().Format(time.DateTime)
	}
	parts := make([]string, 0, len(it.Command))
	for _, a := range it.Command {
		parts = append(parts, strconv.Quote(string(a)))
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, row := range [][2]string{
		{"id", it.ID},
		{"state", string(it.State)},
		{"priority", strconv.Itoa(it.Priority)},
		{"key", orDash(strconv.Quote(string(it.Key)))},
		{"command", strings.Join(parts, " ")},
		{"enqueued", it.EnqueuedAt.Local().Format(time.DateTime)},
		{"attempts", fmt.Sprintf("%d of %d", it.Attempts, it.MaxAttempts)},
		{"next attempt", next},
		{"last error", orDash(it.LastError)},
	} {
		fmt.Fprintf(tw, "%s\t%s\n", row[0], row[1])
	}
	return tw.Flush()
}
