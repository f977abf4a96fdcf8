(function () {
  'use strict';
  var tip = document.getElementById('dm-tip'), mid = ' \u00b7 ';
  function fmt(v) { return v === 0 ? '0' : Math.abs(v) >= 0.01 ? v.toFixed(3) : v.toExponential(2); }
  function num(s, a) { return parseFloat(s.getAttribute(a)); }
  // a track's values: integers times data-unit, parsed once
  function values(s) {
    if (!s.dmValues) {
      var u = num(s, 'data-unit');
      s.dmValues = s.getAttribute('data-v').split(',').map(function (x) { return x * u; });
    }
    return s.dmValues;
  }
  // what is under the pointer: position i of the track (and row r of a heatmap or strip)
  function describe(s, e) {
    var pt = s.createSVGPoint(); pt.x = e.clientX; pt.y = e.clientY;
    var p = pt.matrixTransform(s.getScreenCTM().inverse());
    var kind = s.getAttribute('data-kind'), v = values(s);
    var rows = kind === 'strip' ? 2 : 4, n = v.length / rows;
    var i = Math.floor((p.x - num(s, 'data-x0')) / num(s, 'data-cw'));
    if (!(i >= 0 && i < n)) return null;
    var seq = s.getAttribute('data-seq') || '', t = 'position ' + (i + 1) + mid;
    if (kind === 'logo') {
      var c = v.slice(4 * i, 4 * i + 4), sum = c[0] + c[1] + c[2] + c[3];
      if (seq) return t + seq.charAt(i) + mid + 'saliency ' + fmt(sum);
      var top = 'ACGT'.charAt(c.indexOf(Math.max.apply(null, c)));
      var ps = c.map(function (h, k) { return 'ACGT'.charAt(k) + ' ' + (h / sum).toFixed(2); });
      return t + top + mid + fmt(sum) + ' bits' + (sum > 0 ? ' (' + ps.join(', ') + ')' : '');
    }
    var r = Math.floor((p.y - num(s, 'data-y0')) / num(s, 'data-rh'));
    r = Math.min(rows - 1, Math.max(0, r));
    if (kind === 'heat')
      return t + seq.charAt(i) + mid + 'channel ' + 'ACGT'.charAt(r) + ' ' + fmt(v[4 * i + r]);
    return t + seq.charAt(i) + mid + (r ? 'backward ' : 'forward ') + fmt(v[r * n + i]);
  }
  document.addEventListener('mousemove', function (e) {
    var s = e.target.closest ? e.target.closest('svg[data-v]') : null, t = s ? describe(s, e) : null;
    if (!t) { tip.hidden = true; return; }
    tip.textContent = t; tip.hidden = false;
    tip.style.left = (e.pageX + 12) + 'px'; tip.style.top = (e.pageY + 14) + 'px';
  });
  // sortable tables: click a header to sort the body by that column's data-sort values
  Array.prototype.forEach.call(document.querySelectorAll('table.dm-sortable'), function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
      th.addEventListener('click', function () {
        var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
        var up = th.getAttribute('data-dir') !== 'up';
        rows.sort(function (a, b) {
          var x = a.cells[col].getAttribute('data-sort'), y = b.cells[col].getAttribute('data-sort');
          var nx = parseFloat(x), ny = parseFloat(y);
          var c = isNaN(nx) || isNaN(ny) ? String(x).localeCompare(String(y)) : nx - ny;
          return up ? c : -c;
        });
        th.setAttribute('data-dir', up ? 'up' : 'down');
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  });
  // time from navigation to a laid-out page, shown in the footer
  window.addEventListener('load', function () {
    var el = document.getElementById('dm-render'), h = document.body.offsetHeight;
    var ms = Math.round(performance.now());
    if (!el) return;
    el.setAttribute('data-ms', String(ms));
    el.textContent = 'Loaded and laid out in ' + ms + ' ms (' + h + ' px).';
  });
})();
