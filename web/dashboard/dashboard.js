// Organizer dashboard: reads data.json (package dashboard, type Data),
// then follows the server's events, each of which carries the last two
// buckets, and draws each campaign's figures, flags and charts. When the
// event stream fails it reads data.json again every sample interval. It
// shows only counts per bucket and gauges: the server sends nothing else.
'use strict';

(function () {
  const $ = (id) => document.getElementById(id);

  // Refusal codes, as PROTOCOL.md names them.
  const CODES = ['400', '480', '481', '482', '483', '484', '485', '486', '487', '488', '489', '503'];
  const COLORS = ['#0b4f9c', '#a30000', '#2e7d32', '#8e24aa', '#ef6c00', '#00838f', '#6d4c41', '#c2185b', '#455a64', '#9e9d24', '#5e35b1', '#111111'];

  const st = {
    lang: 'en',
    msgs: {},
    data: null,     // the last Data, events merged in
    mode: 'start',  // start, live, polling, offline
    views: {},      // by campaign: {el, charts, codes}
    proc: null,     // the process chart
    es: null,
    poll: null,
  };

  function t(key, args) { return powvoteLang.fill(st.msgs, key, args); }
  function known(v) { return v !== null && v !== undefined && Number.isFinite(v); }
  function num(v) { return known(v) ? Number(v).toLocaleString(st.lang, { maximumFractionDigits: 1 }) : '\u2013'; }
  function pct(v) { return known(v) ? (v * 100).toLocaleString(st.lang, { maximumFractionDigits: 1 }) + '\u00a0%' : '\u2013'; }
  function secs(v) { return known(v) ? t('seconds', { n: num(v) }) : '\u2013'; }
  function clock(s) {
    const opts = { hour: '2-digit', minute: '2-digit' };
    if (!st.data || st.data.bucket_s < 60) opts.second = '2-digit';
    return new Date(s * 1000).toLocaleTimeString(st.lang, opts);
  }
  // bucket names the length of a bucket: "minute", or "5 s" in tests.
  function bucket() {
    const b = st.data ? st.data.bucket_s : 60;
    return b === 60 ? t('minute') : t('seconds', { n: num(b) });
  }

  function translate(root) {
    for (const el of root.querySelectorAll('[data-i18n]')) {
      const m = st.msgs[el.dataset.i18n];
      if (m) el.textContent = m;
    }
  }

  // setValue shows a figure, and keeps the number itself for tests.
  function setValue(el, v, shown) {
    el.textContent = shown === undefined ? num(v) : shown;
    el.dataset.value = known(v) ? String(v) : '';
  }

  // ---- data ----

  const SERIES = ['acknowledged', 'published', 'stamps', 'delay', 'lines'];

  // merge puts an event's buckets in place of the page's own, and takes
  // its figures, pairs, flags and history; a campaign the page does not
  // know yet, or a gap, makes it read data.json whole.
  function merge(ev) {
    const d = st.data;
    if (!d || !ev.partial) { st.data = ev; return true; }
    for (const c of ev.campaigns) {
      if (!d.campaigns.some((x) => x.name === c.name)) return false;
    }
    const bs = ev.bucket_s;
    for (let i = 0; i < ev.t.length; i++) {
      const tt = ev.t[i];
      let j = d.t.lastIndexOf(tt);
      if (j < 0) {
        const last = d.t.length ? d.t[d.t.length - 1] : null;
        if (last !== null && tt < last) continue;
        if (last !== null && tt - last > bs * 1.5) return false;
        d.t.push(tt);
        d.process.nonce_series.push(null);
        d.process.conn_series.push(null);
        for (const c of d.campaigns) {
          for (const k of SERIES) c.series[k].push(null);
          for (const code of Object.keys(c.series.refused)) c.series.refused[code].push(null);
        }
        j = d.t.length - 1;
      }
      d.process.nonce_series[j] = ev.process.nonce_series[i];
      d.process.conn_series[j] = ev.process.conn_series[i];
      for (const c of d.campaigns) {
        const e = ev.campaigns.find((x) => x.name === c.name);
        if (!e) continue;
        for (const k of SERIES) c.series[k][j] = e.series[k][i];
        for (const code of Object.keys(e.series.refused)) {
          if (!c.series.refused[code]) c.series.refused[code] = d.t.map(() => 0);
          c.series.refused[code][j] = e.series.refused[code][i];
        }
      }
    }
    // The window: as many buckets as the server keeps.
    const drop = d.t.length - d.window;
    if (drop > 0) {
      d.t.splice(0, drop);
      d.process.nonce_series.splice(0, drop);
      d.process.conn_series.splice(0, drop);
      for (const c of d.campaigns) {
        for (const k of SERIES) c.series[k].splice(0, drop);
        for (const code of Object.keys(c.series.refused)) c.series.refused[code].splice(0, drop);
      }
    }
    for (const c of d.campaigns) {
      const e = ev.campaigns.find((x) => x.name === c.name);
      if (!e) continue;
      for (const k of ['acknowledged', 'stamps', 'refused', 'published', 'delay', 'pairs', 'flags', 'history', 'options']) c[k] = e[k];
    }
    d.process.nonce_entries = ev.process.nonce_entries;
    d.process.open_connections = ev.process.open_connections;
    d.sources = ev.sources;
    d.time = ev.time;
    d.anomaly = ev.anomaly;
    return true;
  }

  async function load() {
    const r = await fetch('data.json', { cache: 'no-store' });
    if (!r.ok) throw new Error(String(r.status));
    st.data = await r.json();
    render();
  }

  // follow opens the event stream; on its failure the page polls.
  function follow() {
    if (!window.EventSource) { poll(); return; }
    const es = new EventSource('events');
    st.es = es;
    es.onopen = () => {
      stopPolling();
      st.mode = 'live';
      // Whatever happened while the stream was down.
      load().catch(() => {});
    };
    es.addEventListener('sample', (m) => {
      let ev;
      try { ev = JSON.parse(m.data); } catch (e) { return; }
      if (merge(ev)) render(); else load().catch(() => {});
    });
    es.onerror = () => {
      // The browser retries by itself while the stream is CONNECTING; a
      // refusal (too many streams, a login gone) closes it for good.
      if (es.readyState === EventSource.CLOSED) {
        st.es = null;
        poll();
      } else {
        st.mode = 'offline';
        renderStatus();
      }
    };
  }

  function poll() {
    if (st.poll) return;
    st.mode = 'polling';
    renderStatus();
    const every = Math.max(1000, (st.data ? st.data.interval_s : 10) * 1000);
    const tick = async () => {
      try { await load(); st.mode = 'polling'; } catch (e) { st.mode = 'offline'; }
      renderStatus();
    };
    st.poll = setInterval(tick, every);
  }

  function stopPolling() {
    if (st.poll) clearInterval(st.poll);
    st.poll = null;
  }

  // ---- drawing ----

  function renderStatus() {
    const d = st.data;
    const when = d && d.time ? clock(d.time) : '';
    const key = { start: 'statusStart', live: 'statusLive', polling: 'statusPolling', offline: 'statusOffline' }[st.mode];
    $('status').textContent = t(key, { time: when, every: secs(d ? d.interval_s : 10) });
    $('status').dataset.mode = st.mode;
  }

  function render() {
    const d = st.data;
    renderStatus();
    if (!d) return;
    const list = $('campaigns');
    $('empty').hidden = d.campaigns.length > 0;
    for (const name of Object.keys(st.views)) {
      if (!d.campaigns.some((c) => c.name === name)) {
        st.views[name].el.remove();
        delete st.views[name];
      }
    }
    for (const c of d.campaigns) {
      let v = st.views[c.name];
      if (!v) {
        const el = $('campaign-tpl').content.firstElementChild.cloneNode(true);
        el.dataset.campaign = c.name;
        translate(el);
        list.appendChild(el);
        v = st.views[c.name] = { el, charts: {}, codes: '' };
      }
      renderCampaign(v, c);
    }
    renderProcess();
    renderSources();
    renderAbout();
    loadActions();
  }

  // loadActions shows the back office's log of operator actions (GET
  // /actions), at most every 15 s; the section stays hidden where the
  // dashboard is served without the back office.
  async function loadActions() {
    const now = Date.now();
    if (st.actionsAt && now - st.actionsAt < 15000) return;
    st.actionsAt = now;
    let got;
    try {
      const r = await fetch('/actions?n=20', { cache: 'no-store', credentials: 'same-origin' });
      if (!r.ok) return;
      got = await r.json();
    } catch (e) {
      return;
    }
    const ul = $('actions').querySelector('ul');
    ul.textContent = '';
    for (const a of (got.actions || []).slice().reverse()) {
      const li = document.createElement('li');
      li.textContent = t('actionLine', { time: clock(a.time), who: a.who, action: a.action, target: a.target || '', outcome: a.outcome });
      ul.appendChild(li);
    }
    $('actions').hidden = false;
  }

  function renderCampaign(v, c) {
    const q = (sel) => v.el.querySelector(sel);
    q('.name').textContent = c.name;
    setValue(q('[data-field=acknowledged]'), c.acknowledged);
    setValue(q('[data-field=published]'), c.published);
    setValue(q('[data-field=stamps]'), c.stamps);
    setValue(q('[data-field=delay]'), c.delay, secs(c.delay));
    let refused = 0;
    for (const code of Object.keys(c.refused)) refused += c.refused[code];
    setValue(q('[data-field=refused]'), refused);
    // The last whole bucket: the one before the current.
    const acks = c.series.acknowledged;
    const rate = acks.length >= 2 ? acks[acks.length - 2] : null;
    q('.rate-label').textContent = t('rate', { bucket: bucket() });
    setValue(q('[data-field=rate]'), rate);

    // Flags, latest first.
    const ul = q('.flags');
    ul.textContent = '';
    const flags = c.flags.slice().sort((a, b) => b.to - a.to);
    for (const f of flags) {
      const li = document.createElement('li');
      li.className = 'flag';
      li.dataset.kind = f.kind;
      if (f.dir) li.dataset.dir = f.dir;
      if (f.code) li.dataset.code = String(f.code);
      if (f.live) li.dataset.live = '1';
      li.textContent = flagText(f);
      ul.appendChild(li);
    }
    q('.no-flags').hidden = flags.length > 0;

    q('.votes-title').textContent = t('votesTitle', { bucket: bucket() });
    q('.refusals-title').textContent = t('refusalsTitle', { bucket: bucket() });
    chart(v, 'votes', q('.chart-votes'), [
      { label: t('acknowledged'), data: c.series.acknowledged },
      { label: t('published'), data: c.series.published },
      { label: t('stamps'), data: c.series.stamps },
    ], true);
    const codes = CODES.filter((code) => c.series.refused[code]);
    q('.no-refusals').hidden = codes.length > 0;
    q('.chart-refusals').hidden = codes.length === 0;
    if (codes.join() !== v.codes) {
      // Another set of series: uPlot draws a new chart for it.
      if (v.charts.refusals) v.charts.refusals.destroy();
      delete v.charts.refusals;
      v.codes = codes.join();
    }
    if (codes.length) {
      chart(v, 'refusals', q('.chart-refusals'), codes.map((code) => ({ label: code + ' ' + t('code' + code), data: c.series.refused[code], color: COLORS[CODES.indexOf(code)] })), true);
    }
    chart(v, 'delay', q('.chart-delay'), [{ label: t('delay'), data: c.series.delay }]);

    const tb = q('.pairs tbody');
    tb.textContent = '';
    for (const p of c.pairs) {
      for (const i of p.instances) {
        const tr = document.createElement('tr');
        tr.dataset.pair = String(p.pair);
        tr.dataset.instance = String(i.instance);
        const cells = [String(p.pair), String(i.instance),
          known(i.ready) ? t(i.ready === 1 ? 'yes' : 'no') : '\u2013',
          num(i.lag), num(i.stored), secs(i.pull_age)];
        cells.forEach((s, k) => {
          const td = document.createElement('td');
          td.textContent = s;
          if (k === 2 && i.ready === 0) td.className = 'bad';
          tr.appendChild(td);
        });
        tb.appendChild(tr);
      }
    }

    const h = c.history;
    q('.history').hidden = !h;
    if (h) {
      q('.history-line').textContent = h.failed ? t('historyFailed')
        : h.lines ? t('historyLine', { lines: num(h.lines), size: num(h.size), time: clock(h.time), bad: num(h.bad) })
          : t('historyNone');
      q('.shares').hidden = h.shares.length === 0;
      const body = q('.shares tbody');
      body.textContent = '';
      for (const s of h.shares) {
        const g = h.growth.find((x) => x.option === s.option);
        const tr = document.createElement('tr');
        for (const text of [s.option, num(s.count), pct(s.share), g ? num(g.largest) : '\u2013', g ? num(g.median) : '\u2013']) {
          const td = document.createElement('td');
          td.textContent = text;
          tr.appendChild(td);
        }
        body.appendChild(tr);
      }
    }
  }

  function flagText(f) {
    const when = clock(f.from);
    let s;
    switch (f.kind) {
      case 'votes':
      case 'stamps':
        s = t('flag_' + f.kind + '_' + f.dir, { time: when, bucket: bucket(), value: num(f.value), base: num(f.base) });
        break;
      case 'refusals':
        s = t('flag_refusals', { time: when, bucket: bucket(), value: num(f.value), base: num(f.base), code: f.code, reason: t('code' + f.code) });
        break;
      case 'share':
        s = t('flag_share', { option: f.option, from: pct(f.base), to: pct(f.value), time: clock(f.to) });
        break;
      case 'stall':
        s = t('flag_stall', { pair: f.pair, from: clock(f.from), to: clock(f.to), value: num(f.value), base: num(f.base) });
        break;
      default:
        s = f.kind;
    }
    return f.live ? s + ' ' + t('live') : s;
  }

  // xScale runs the time axis to the end of the current bucket, so that
  // its count has its width.
  function xScale() {
    return { time: true, range: (u, min, max) => [min, max + (st.data ? st.data.bucket_s : 60)] };
  }

  // chart draws series against the buckets' times in the element, making
  // the uPlot chart on first use: counts per bucket as steps over their
  // bucket, gauges as lines.
  function chart(v, key, el, series, counts) {
    const data = [st.data.t].concat(series.map((s) => s.data));
    let u = v.charts[key];
    if (u) {
      u.setData(data);
      return;
    }
    const width = Math.max(200, el.clientWidth || 320);
    u = new uPlot({
      width,
      height: 180,
      scales: { x: xScale() },
      axes: [{}, { size: 48 }],
      series: [{}].concat(series.map((s, i) => ({
        label: s.label,
        stroke: s.color || COLORS[i],
        width: 2,
        points: { show: false },
        paths: counts ? uPlot.paths.stepped({ align: 1, extend: true }) : undefined,
      }))),
      legend: { live: false },
    }, data, el);
    v.charts[key] = u;
  }

  function renderProcess() {
    const p = st.data.process;
    const q = (sel) => $('process').querySelector(sel);
    setValue(q('[data-field=nonce]'), p.nonce_entries);
    setValue(q('[data-field=conns]'), p.open_connections);
    const data = [st.data.t, p.nonce_series, p.conn_series];
    if (st.proc) {
      st.proc.setData(data);
      return;
    }
    const el = $('process-chart');
    st.proc = new uPlot({
      width: Math.max(200, el.clientWidth || 320),
      height: 160,
      scales: { x: xScale() },
      axes: [{}, { size: 48 }],
      series: [{}, { label: t('nonceEntries'), stroke: COLORS[0], width: 2, points: { show: false } },
        { label: t('openConnections'), stroke: COLORS[1], width: 2, points: { show: false } }],
      legend: { live: false },
    }, data, el);
  }

  function renderSources() {
    const ul = $('sources');
    ul.textContent = '';
    for (const s of st.data.sources) {
      if (s.ok) continue;
      const li = document.createElement('li');
      li.textContent = t('sourceFailing', { name: s.name, why: t('err_' + (s.error || 'no_answer')), time: s.last_ok ? clock(s.last_ok) : t('never') });
      ul.appendChild(li);
    }
    ul.hidden = ul.children.length === 0;
  }

  function renderAbout() {
    const a = st.data.anomaly;
    $('about-buckets').textContent = t('aboutBuckets', { bucket: bucket(), min: num(a.min_count), factor: num(a.factor), trailing: num(a.trailing) });
    $('about-stall').textContent = t('aboutStall', { n: num(a.stall_buckets), bucket: bucket(), min: num(a.min_count) });
    $('about-share').textContent = t('aboutShare', { jump: pct(a.share_jump), votes: num(a.share_min_votes) });
  }

  // Charts follow the page's width (a phone turned, a window resized).
  let resizing = null;
  window.addEventListener('resize', () => {
    clearTimeout(resizing);
    resizing = setTimeout(() => {
      for (const v of Object.values(st.views)) {
        for (const [key, u] of Object.entries(v.charts)) {
          const el = v.el.querySelector('.chart-' + key);
          u.setSize({ width: Math.max(200, el.clientWidth), height: 180 });
        }
      }
      if (st.proc) st.proc.setSize({ width: Math.max(200, $('process-chart').clientWidth), height: 160 });
    }, 100);
  });

  async function loadLang(lang) {
    const c = await powvoteLang.load('i18n/', lang);
    st.lang = c.lang;
    st.msgs = c.msgs;
    document.title = t('title');
    translate(document);
    // Chart legends are drawn with the language they were made in.
    for (const v of Object.values(st.views)) {
      for (const u of Object.values(v.charts)) u.destroy();
      v.charts = {};
      v.codes = '';
    }
    if (st.proc) { st.proc.destroy(); st.proc = null; }
    render();
  }

  async function start() {
    await loadLang(powvoteLang.pick());
    powvoteLang.onPick(loadLang);
    try {
      await load();
    } catch (e) {
      st.mode = 'offline';
      renderStatus();
    }
    follow();
  }

  // A page left for another keeps its stream open while the browser holds
  // it for going back: close it, so that it does not hold one of the
  // server's few streams, and open it again on coming back.
  window.addEventListener('pagehide', () => {
    if (st.es) st.es.close();
    st.es = null;
    stopPolling();
  });
  window.addEventListener('pageshow', (e) => {
    if (e.persisted) follow();
  });

  window.powvoteDashboard = { state: st };
  start();
})();
