// Package media forwards a parent's RTP to any number of children unchanged:
// one read loop per upstream track, a shared packet cache, and per-child
// writers that drop instead of blocking. Package node drives it.
package media
