// Package application holds Aurix's use cases. Each loads what it needs
// through ports, lets the domain decide, and saves the aggregate together
// with the events it recorded in one unit of work, so that an event exists
// exactly when the change that caused it was committed.
package application
