package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/vigil-redis/vigil/config"
)

// Output formats of the read commands.
const (
	outputTable = "table"
	outputJSON  = "json"
)

// output is a read command's -o flag (and the older --json).
type output struct {
	format string
	json   bool
}

// bindOutput adds -o/--output to a read command, and --json as a hidden
// alias kept for scripts written against earlier releases.
func bindOutput(cmd *cobra.Command) *output {
	o := &output{}
	cmd.Flags().StringVarP(&o.format, "output", "o", outputTable, "output `format`: table or json")
	cmd.Flags().BoolVar(&o.json, "json", false, "same as -o json")
	_ = cmd.Flags().MarkHidden("json")
	return o
}

// asJSON reports whether JSON was asked for; an unknown format is a usage
// error.
func (o *output) asJSON() (bool, error) {
	switch o.format {
	case outputTable:
		return o.json, nil
	case outputJSON:
		return true, nil
	}
	return false, fmt.Errorf("%w: -o %q: want table or json", errUsage, o.format)
}

// usageArgs wraps every command's argument check in the tree under c so
// that a missing or extra argument is a usage error (exit status 2).
func usageArgs(c *cobra.Command) {
	for _, sub := range c.Commands() {
		usageArgs(sub)
	}
	check := c.Args
	if check == nil {
		if c.HasSubCommands() {
			return // cobra reports an unknown subcommand itself
		}
		check = cobra.ArbitraryArgs
	}
	c.Args = func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return fmt.Errorf("%w: %s: %w (see %s --help)", errUsage, cmd.CommandPath(), err, cmd.CommandPath())
		}
		return nil
	}
}

// classify turns cobra's own command-line errors, which it returns as
// plain errors, into usage errors.
func classify(err error) error {
	if err == nil || errors.Is(err, errUsage) {
		return err
	}
	if strings.HasPrefix(err.Error(), "unknown command ") {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	return err
}

// flagError is the root's flag error function: a usage error, with the
// closest flag name suggested for an unknown one.
func flagError(c *cobra.Command, err error) error {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "unknown flag: --"); ok {
		best, bestD := "", 4
		c.Flags().VisitAll(func(f *pflag.Flag) {
			if d := config.EditDistance(name, f.Name); d < bestD {
				best, bestD = f.Name, d
			}
		})
		if best != "" {
			msg += fmt.Sprintf(" (did you mean --%s?)", best)
		}
	}
	return fmt.Errorf("%w: %s (see %s --help)", errUsage, msg, c.CommandPath())
}
