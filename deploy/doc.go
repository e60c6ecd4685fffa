// Package deploy holds the files that run powvote's processes on servers
// and the tests that check them. systemd/ has a unit per process
// (powvote-edge.service, powvote-publisher.service and the template
// powvote-collector@.service, one instance per collecting instance) and
// an example of each unit's environment file, which carries the flags.
//
// The tests run systemd's own checks on the units (systemd-analyze verify
// and its offline security review) and require the hardening each unit
// must keep, so that a directive removed or loosened by mistake fails
// before it reaches a server. docs/DEPLOY.md walks an operator through
// installing them.
package deploy
