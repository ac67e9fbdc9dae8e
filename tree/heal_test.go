package tree

import "testing"

func rep(id string, kids ...[]any) []any {
	var cs []Child
	for _, k := range kids {
		cs = append(cs, Child{ID: Report(k).ID(), Name: Report(k).Name(), Report: Report(k)})
	}
	return BuildReport(id, id+"-name", cs)
}

func roomMapOf(host []any) RoomMap {
	return RoomMap{int64(1), int64(1), []any{}, int64(0), "t", "", nil, Report(host).ID(), "H", host, "", false}
}

func TestChooseParent(t *testing.T) {
	full := func(id string, kids ...[]any) []any {
		for len(kids) < 4 {
			kids = append(kids, rep(id+"-leaf"+string(rune('a'+len(kids)))))
		}
		return rep(id, kids...)
	}
	tests := []struct {
		name  string
		host  []any
		avoid []string
		want  string
		ok    bool
	}{
		{"host with room", rep("H", rep("A", rep("B"))), []string{"B", "A"}, "H", true},
		{"host full: shallowest with room", full("H", rep("A"), rep("X"), rep("Y"), rep("Z")), []string{"me"}, "A", true},
		{"the lost parent's subtree is skipped", full("H", full("A", rep("me")), rep("X"), rep("Y"), rep("Z")), []string{"me", "A"}, "X", true},
		{"our own subtree is skipped", full("H", full("me"), full("X", rep("deep")), full("Y"), full("Z")), []string{"me"}, "deep", true},
		{"breadth first", full("H", full("A", rep("a1")), full("B"), rep("C"), full("D")), nil, "C", true},
		{"everything full or avoided", full("H", full("A"), full("B"), full("C"), full("me")), []string{"me", "A", "B", "C"}, "", false},
		{"no host report", nil, nil, "", false},
		{"the host itself avoided", rep("H"), []string{"H"}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m RoomMap
			if tt.host != nil {
				m = roomMapOf(tt.host)
			}
			got, ok := ChooseParent(m, tt.avoid...)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("ChooseParent = %q, %v; want %q, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}
