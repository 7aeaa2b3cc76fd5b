// manifestcheck validates docker-compose.yml with the Compose specification's own loader
// (compose-go: JSON schema, interpolation, merge keys) and the Dockerfile with BuildKit's own
// parser and linter, offline: no Docker engine is needed. Usage: manifestcheck <project root>.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: manifestcheck <project root>")
		os.Exit(2)
	}
	root := os.Args[1]
	problems := append(checkCompose(root), checkDockerfile(root)...)
	for _, problem := range problems {
		fmt.Println(problem)
	}
	if len(problems) > 0 {
		os.Exit(1)
	}
	fmt.Println("docker-compose.yml and Dockerfile: no problems")
}

func checkCompose(root string) []string {
	options, err := cli.NewProjectOptions(
		[]string{filepath.Join(root, "docker-compose.yml")},
		cli.WithWorkingDirectory(root),
		cli.WithInterpolation(true),
	)
	if err != nil {
		return []string{fmt.Sprintf("docker-compose.yml: %v", err)}
	}
	project, err := options.LoadProject(context.Background())
	if err != nil {
		return []string{fmt.Sprintf("docker-compose.yml: %v", err)}
	}
	fmt.Printf("docker-compose.yml: %d services\n", len(project.Services))
	return nil
}

func checkDockerfile(root string) []string {
	file, err := os.Open(filepath.Join(root, "Dockerfile"))
	if err != nil {
		return []string{fmt.Sprintf("Dockerfile: %v", err)}
	}
	defer file.Close()
	result, err := parser.Parse(file)
	if err != nil {
		return []string{fmt.Sprintf("Dockerfile: %v", err)}
	}
	var problems []string
	for _, warning := range result.Warnings {
		problems = append(problems, fmt.Sprintf("Dockerfile: %s", warning.Short))
	}
	lint := linter.New(&linter.Config{
		Warn: func(rule, description, url, message string, location []parser.Range) {
			line := 0
			if len(location) > 0 {
				line = location[0].Start.Line
			}
			problems = append(problems, fmt.Sprintf("Dockerfile:%d: %s: %s", line, rule, message))
		},
	})
	stages, _, err := instructions.Parse(result.AST, lint)
	if err != nil {
		return append(problems, fmt.Sprintf("Dockerfile: %v", err))
	}
	fmt.Printf("Dockerfile: %d stages\n", len(stages))
	return problems
}
