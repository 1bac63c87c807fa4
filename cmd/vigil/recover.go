package main

import (
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vigil-redis/vigil/config"
	"github.com/vigil-redis/vigil/failover/authority"
)

// newRecoverCmd is "vigil recover --voters a,b": the way out for a group
// that lost its Raft majority for good (hashicorp/raft's RecoverCluster,
// as Consul's peers.json). It runs offline, on the member's own data dir,
// with the configuration its sidecar runs with; nothing on the network
// can reach it.
func newRecoverCmd(environ []string, stdout, stderr io.Writer) *cobra.Command {
	var voters []string
	cmd := &cobra.Command{
		Use:   "recover --voters NODE[,NODE...]",
		Short: "Rewrite this stopped member's Raft configuration after the group lost its majority for good",
		Long: "recover makes the listed members the group's only voters, for a group that can elect no leader " +
			"because a majority of its voters is gone for good. Stop every surviving sidecar, run recover with the " +
			"same --voters and the sidecar's own configuration on each member listed, then start them. Every entry a " +
			"member holds counts as committed afterwards, and members left out drop out of the state (the primary's " +
			"record stays until a failover replaces it). New members join as usual. Use it only for members known to be " +
			"gone for good: members recovered while the ones left out still run (behind a partition, say) form a second " +
			"group, and both can name a primary.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(voters) == 0 {
				return fmt.Errorf("%w: recover: --voters is required (see vigil recover --help)", errUsage)
			}
			cfg, err := config.Load(cmd.Flags(), environ)
			if err != nil {
				return err
			}
			var level slog.LevelVar
			logger, err := newLogger(cfg.Log, stderr, &level)
			if err != nil {
				return err
			}
			rec, err := authority.Recover(cfg.Node.DataDir, cfg.Node.Name, voters, logger.With("node", cfg.Node.Name))
			if err != nil {
				return err
			}
			primary := rec.State.Primary
			if primary == "" {
				primary = "none"
			}
			_, err = fmt.Fprintf(stdout, "recovered %s at log index %d, term %d: voters %s (were %s); epoch %d, primary %s\n"+
				"run the same command on every other member listed before starting any of them\n",
				cfg.Node.Name, rec.Index, rec.Term, strings.Join(rec.Voters, ","), strings.Join(rec.Before, ","), rec.State.Epoch, primary)
			return err
		},
	}
	config.RegisterFlags(cmd.Flags())
	applyKeyDocs(cmd.Flags())
	cmd.Flags().StringSliceVar(&voters, "voters", nil, "the members that make up the group from now on (node.name), this one among them")
	return cmd
}
