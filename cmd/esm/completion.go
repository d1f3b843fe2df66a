package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// completionShells are the shells "esm completion" writes a script for.
var completionShells = []string{"bash", "zsh", "fish", "powershell"}

// completionCmd is "esm completion SHELL": cobra's generators, which write
// scripts that ask the binary itself (its hidden __complete command) for
// the commands, flags and arguments, so they never go stale.
func (a *app) completionCmd() *cobra.Command {
	return &cobra.Command{
		DisableFlagsInUseLine: true,
		Use:                   "completion bash|zsh|fish|powershell",
		Short:                 "Print the shell completion script for bash, zsh, fish or PowerShell",
		Long: `Print a script that completes esm's commands, flags and arguments in the
given shell. Load it in the current shell, or install it once:

  bash:        source <(esm completion bash)
               esm completion bash > /etc/bash_completion.d/esm
               (needs the bash-completion package)
  zsh:         source <(esm completion zsh)
               esm completion zsh > "${fpath[1]}/_esm"
  fish:        esm completion fish | source
               esm completion fish > ~/.config/fish/completions/esm.fish
  PowerShell:  esm completion powershell | Out-String | Invoke-Expression`,
		ValidArgs: completionShells,
		Args: func(cmd *cobra.Command, args []string) error {
			if err := rangeArgs(1, 1, "SHELL (bash, zsh, fish or powershell)")(cmd, args); err != nil {
				return err
			}
			for _, s := range completionShells {
				if args[0] == s {
					return nil
				}
			}
			return usagef("completion: unknown shell %q: want bash, zsh, fish or powershell", args[0])
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			root := cmd.Root()
			var err error
			switch args[0] {
			case "bash":
				err = root.GenBashCompletionV2(a.stdout, true)
			case "zsh":
				err = root.GenZshCompletion(a.stdout)
			case "fish":
				err = root.GenFishCompletion(a.stdout, true)
			case "powershell":
				err = root.GenPowerShellCompletionWithDesc(a.stdout)
			}
			if err != nil {
				return fmt.Errorf("write %s completion: %w", args[0], err)
			}
			return nil
		},
	}
}
