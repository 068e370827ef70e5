#compdef update-estimate

_update_estimate_completion() {
  eval $(env _TYPER_COMPLETE_ARGS="${words[1,$CURRENT]}" _UPDATE_ESTIMATE_COMPLETE=complete_zsh update-estimate)
}

compdef _update_estimate_completion update-estimate