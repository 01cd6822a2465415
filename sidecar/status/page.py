"""The status page: one self-contained HTML document (no CDN), fed by ``/status.json`` every 2 s."""

from __future__ import annotations

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ecs-otel sidecar</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
 body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#1d2330;background:#f7f8fa}
 h1{font-size:1.3rem;margin:0 0 .2rem} h2{font-size:1.05rem;margin:1.4rem 0 .4rem}
 .muted{color:#667} .ok{color:#17803d} .bad{color:#b42318}
 table{border-collapse:collapse;background:#fff;min-width:40rem}
 th,td{border:1px solid #dde;padding:.25rem .6rem;text-align:right} th{background:#eef1f5}
 td:first-child,th:first-child{text-align:left}
 .flow{display:flex;gap:.4rem;align-items:center;flex-wrap:wrap;margin:.3rem 0}
 .box{background:#fff;border:1px solid #ccd;border-radius:4px;padding:.15rem .5rem}
 .bar{display:inline-block;width:6rem;height:.6rem;background:#e4e7ec;vertical-align:middle}
 .bar>i{display:block;height:100%;background:#2e90fa}
</style></head><body>
<h1>ecs-otel sidecar</h1>
<div id="health" class="muted">loading…</div>
<h2>Pipeline</h2><div id="pipeline"></div>
<h2>Receivers</h2><table id="receivers"></table>
<h2>Processors</h2><table id="processors"></table>
<h2>Exporter queues</h2><table id="queues"></table>
<h2>Process</h2><table id="process"></table>
<h2>Components</h2><pre id="components" class="box"></pre>
<script>
"use strict";
function el(tag, text, cls){const e=document.createElement(tag); if(text!==undefined) e.textContent=String(text); if(cls) e.className=cls; return e;}
function table(id, head, rows){const t=document.getElementById(id); t.replaceChildren();
 const tr=el("tr"); head.forEach(h=>tr.appendChild(el("th",h))); t.appendChild(tr);
 rows.forEach(r=>{const row=el("tr"); r.forEach(c=>{const td=el("td"); if(c instanceof Node) td.appendChild(c); else td.textContent=String(c); row.appendChild(td);}); t.appendChild(row);});}
function bar(f){const b=el("span","", "bar"); const i=el("i"); i.style.width=Math.min(100,Math.round(f*100))+"%"; b.appendChild(i); b.title=Math.round(f*100)+"%"; return b;}
function drops(d){const parts=Object.entries(d||{}).filter(([,v])=>v>0).map(([k,v])=>k+": "+v); return parts.length?parts.join(", "):"0";}
function ms(v){return v==null?"–":(v*1000).toFixed(1)+" ms";}
async function refresh(){
 let s; try{ s=await (await fetch("status.json",{cache:"no-store"})).json(); }catch(e){ document.getElementById("health").textContent="status unavailable: "+e; return; }
 const h=document.getElementById("health"); h.className=s.health.healthy?"ok":"bad";
 h.textContent=(s.health.healthy?"healthy":"unhealthy: "+s.health.reasons.join("; "))+" · up "+Math.round(s.uptime_s)+" s · version "+s.version+(s.region?" · "+s.region:"");
 const p=document.getElementById("pipeline"); p.replaceChildren();
 for(const [sig, line] of Object.entries(s.pipeline)){
  const f=el("div","", "flow"); f.appendChild(el("b",sig));
  ["receivers","processors","exporters"].forEach(k=>{f.appendChild(el("span","→")); f.appendChild(el("span",(line[k]||[]).join(", ")||"none","box"));});
  p.appendChild(f);}
 table("receivers",["receiver","signal","accepted items","refused items","requests"],
  s.receivers.map(r=>[r.receiver,r.signal,r.accepted,r.refused,Object.entries(r.requests).map(([k,v])=>k+": "+v).join(", ")]));
 table("processors",["processor","signal","batches","time per batch p50/p99"],
  (s.processors||[]).map(p=>[p.processor,p.signal,p.batches,ms(p.duration.p50)+" / "+ms(p.duration.p99)]));
 table("queues",["exporter","signal","received","exported","dropped","queued","fill","retried","latency p50/p99","recent failures"],
  s.queues.map(q=>[q.exporter,q.signal,q.received,q.exported,drops(q.dropped),q.queued,bar(q.fill),q.retried,
   ms(q.latency.p50)+" / "+ms(q.latency.p99),q.recent_failures+"/"+q.recent_attempts]));
 table("process",["RSS","memory limit","queued bytes","CPU seconds"],
  [[(s.process.rss_bytes/1048576).toFixed(1)+" MiB",(s.process.memory_limit_bytes/1048576).toFixed(0)+" MiB",
    s.process.queued_bytes,s.process.cpu_seconds.toFixed(2)]]);
 document.getElementById("components").textContent=JSON.stringify(s.components,null,2);
}
refresh(); setInterval(refresh,2000);
</script></body></html>
"""
