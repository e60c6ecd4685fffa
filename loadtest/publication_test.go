package loadtest

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestPublicationReport: exact nearest-rank percentiles over all the
// votes seen, and the p99 of each slice of acknowledgement time, an empty
// slice included.
func TestPublicationReport(t *testing.T) {
	start := time.Unix(1767225600, 0)
	at := func(d time.Duration) int64 { return start.Add(d).UnixNano() }
	var ackAt, seen []int64
	add := func(ack, delay time.Duration, isSeen bool) {
		ackAt = append(ackAt, at(ack))
		s := int64(0)
		if isSeen {
			s = at(ack + delay)
		}
		seen = append(seen, s)
	}
	// Slice 0 (0-10 s): delays of 1 to 100 ms, the largest first.
	for i := 100; i >= 1; i-- {
		add(time.Duration(i)*50*time.Millisecond, time.Duration(i)*time.Millisecond, true)
	}
	// Slice 1: nothing acknowledged. Slice 2: 5 s, 1 s, 2 s, and one
	// never seen.
	add(20*time.Second, 5*time.Second, true)
	add(25*time.Second, time.Second, true)
	add(29999*time.Millisecond, 2*time.Second, true)
	add(21*time.Second, 0, false)
	// Not acknowledged: left out, counted when seen.
	ackAt, seen = append(ackAt, 0, 0), append(seen, at(3*time.Second), 0)

	p := publicationReport(ackAt, seen, start, 10*time.Second)
	// 103 delays: 1..100 ms, 1000, 2000, 5000 ms.
	if want := (Delay{P50: 52, P90: 93, P99: 2000, Max: 5000}); p.DelayMS != want {
		t.Errorf("delays %+v, want %+v", p.DelayMS, want)
	}
	if p.Acknowledged != 104 || p.Seen != 103 || p.SeenUnacknowledged != 1 || p.SliceS != 10 {
		t.Errorf("acknowledged %d seen %d unacknowledged seen %d slice %v", p.Acknowledged, p.Seen, p.SeenUnacknowledged, p.SliceS)
	}
	type slice struct {
		from        float64
		acked, seen int
		p99         float64 // -1: none
	}
	want := []slice{{0, 100, 100, 99}, {10, 0, 0, -1}, {20, 4, 3, 5000}}
	if len(p.Slices) != len(want) {
		t.Fatalf("%d slices, want %d: %+v", len(p.Slices), len(want), p.Slices)
	}
	for i, w := range want {
		s := p.Slices[i]
		got := slice{s.FromS, s.Acknowledged, s.Seen, -1}
		if s.P99MS != nil {
			got.p99 = *s.P99MS
		}
		if got != w {
			t.Errorf("slice %d: %+v, want %+v", i, got, w)
		}
	}
}

func TestSliceFor(t *testing.T) {
	for span, want := range map[time.Duration]time.Duration{
		30 * time.Second: 10 * time.Second, 119 * time.Second: 10 * time.Second,
		2 * time.Minute: time.Minute, 5 * time.Minute: time.Minute,
	} {
		if got := sliceFor(span); got != want {
			t.Errorf("sliceFor(%v) = %v, want %v", span, got, want)
		}
	}
}

// TestReportPublication: the publication delay in the JSON report and in
// the text, and the notes for votes not seen and restarts.
func TestReportPublication(t *testing.T) {
	start := time.Unix(1767225600, 0)
	ms := func(n int) int64 { return start.Add(time.Duration(n) * time.Millisecond).UnixNano() }
	p := publicationReport([]int64{ms(100), ms(200), ms(61000)}, []int64{ms(2100), 0, ms(64500)}, start, time.Minute)
	f := &follower{other: 20, restarts: 1, firstRestart: "the list shrank from 10 bytes read to 5", fetches: 9, bytes: 1234}
	p.setFollower(f, time.Second, 10)
	rep := &Report{}
	rep.setPublication(p)
	rep.finalize()
	data, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Publication struct {
			FollowIntervalS float64            `json:"follow_interval_s"`
			BatchSize       int                `json:"batch_size"`
			Acknowledged    int                `json:"acknowledged"`
			Seen            int                `json:"seen"`
			DelayMS         map[string]float64 `json:"delay_ms"`
			SliceS          float64            `json:"slice_s"`
			Slices          []map[string]any   `json:"slices"`
			OtherLines      int                `json:"other_lines"`
			Restarts        int                `json:"restarts"`
			Fetches         int                `json:"fetches"`
			BytesRead       int64              `json:"bytes_read"`
		} `json:"publication"`
		Notes []string `json:"notes"`
		OK    bool     `json:"ok"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	pub := m.Publication
	if pub.FollowIntervalS != 1 || pub.BatchSize != 10 || pub.Acknowledged != 3 || pub.Seen != 2 || pub.SliceS != 60 ||
		pub.OtherLines != 20 || pub.Restarts != 1 || pub.Fetches != 9 || pub.BytesRead != 1234 {
		t.Errorf("publication %+v", pub)
	}
	for k, want := range map[string]float64{"p50": 2000, "p90": 3500, "p99": 3500, "max": 3500} {
		if pub.DelayMS[k] != want {
			t.Errorf("delay_ms.%s = %v, want %v", k, pub.DelayMS[k], want)
		}
	}
	if len(pub.Slices) != 2 || pub.Slices[0]["p99_ms"] != 2000.0 || pub.Slices[0]["acknowledged"] != 2.0 || pub.Slices[0]["seen"] != 1.0 ||
		pub.Slices[1]["from_s"] != 60.0 || pub.Slices[1]["p99_ms"] != 3500.0 {
		t.Errorf("slices %v", pub.Slices)
	}
	if !m.OK || len(m.Notes) != 2 || !strings.Contains(m.Notes[0], "1 acknowledged votes were not seen") || !strings.Contains(m.Notes[1], "shrank") {
		t.Errorf("ok %v, notes %q: want a pass noting the vote not seen and the restart", m.OK, m.Notes)
	}

	var text bytes.Buffer
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"publication  2 of 3 acknowledged votes seen in the votes list, looked at every 1s; delay from acknowledgement p50 2.000s p90 3.500s p99 3.500s max 3.500s\n",
		"p99 per minute of acknowledgement (from, p99, seen/acknowledged): 0s 2.000s 1/2; 60s 3.500s 1/1;\n",
		"keeps at least batch_size (10) votes back",
		"note: 1 acknowledged votes were not seen",
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
}
