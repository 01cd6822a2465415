"""The status page: one self-contained HTML document, fed by ``/status.json`` every 2 s.

Everything is inline (CSS, script, SVG charts drawn from strings) because the page must work in
a task with no way out to the internet and under the server's ``default-src 'self'`` policy.
Counters carry their raw number in ``data-value`` so tests (and scripts) need not parse the
human formatting; stage boxes carry ``data-stage``, ``data-name`` and ``data-signal``.
"""

from __future__ import annotations

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ecs-otel sidecar</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
:root{--bg:#0f1419;--panel:#161d25;--panel2:#1c2530;--line:#2a3542;--fg:#d7dee7;--muted:#8393a5;
 --accent:#4fa3ff;--ok:#3fb950;--warn:#d29922;--bad:#f85149;--rx:#4fa3ff;--tx:#c678dd;--cpu:#3fb950;--mem:#e3b341}
*{box-sizing:border-box}
body{font:13px/1.35 ui-sans-serif,system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;padding:14px 18px 30px;
 color:var(--fg);background:var(--bg)}
h1{font-size:17px;margin:0;font-weight:600;letter-spacing:.2px}
h2{font-size:12px;margin:0 0 8px;color:var(--muted);text-transform:uppercase;letter-spacing:.8px;font-weight:600}
header{display:flex;gap:14px;align-items:center;flex-wrap:wrap;margin-bottom:12px}
.pill{padding:2px 10px;border-radius:999px;font-weight:600;font-size:12px;background:var(--panel2)}
.pill.ok{color:#0d1117;background:var(--ok)} .pill.bad{color:#fff;background:var(--bad)}
.meta{color:var(--muted);display:flex;gap:14px;flex-wrap:wrap} .meta b{color:var(--fg);font-weight:500}
#stale{color:var(--warn)}
section{background:var(--panel);border:1px solid var(--line);border-radius:8px;padding:10px 12px;margin-bottom:12px}
.grid2{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:12px}
.grid2>section{margin-bottom:0} .grid2{margin-bottom:12px}
@media (max-width:1000px){.grid2{grid-template-columns:1fr}}
.muted{color:var(--muted)} .num{font-variant-numeric:tabular-nums}
/* pipeline */
.sig{display:grid;grid-template-columns:70px minmax(0,1fr) 18px minmax(0,1.6fr) 18px minmax(0,1fr);gap:6px;
 align-items:center;padding:6px 0;border-top:1px solid var(--line)}
.sig:first-of-type{border-top:0} .sig.head{color:var(--muted);font-size:11px;padding:0 0 2px;border-top:0}
.dest{font-size:11px;color:var(--muted);white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.lasterr{font-size:11px;color:var(--bad);overflow-wrap:anywhere} .note{font-size:11px;color:var(--muted);margin:6px 0 0}
header a{color:var(--accent)}
.sig>.label{font-weight:600;text-transform:capitalize}
.col{display:flex;flex-direction:column;gap:5px} .chain{display:flex;gap:5px;align-items:stretch;flex-wrap:wrap}
.arrow{color:var(--muted);text-align:center;font-size:15px}
.node{background:var(--panel2);border:1px solid var(--line);border-left:3px solid var(--accent);border-radius:5px;
 padding:4px 7px;min-width:0;flex:1 1 0}
.node.rcv{border-left-color:#56b6c2} .node.proc{border-left-color:#c678dd} .node.exp{border-left-color:var(--ok)}
.node.idle{opacity:.55} .node.warn{border-left-color:var(--warn)} .node.fail{border-left-color:var(--bad)}
.nname{font-weight:600;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.kvs{display:flex;flex-wrap:wrap;gap:1px 10px;font-size:12px}
.kv{white-space:nowrap;color:var(--muted)} .kv b{color:var(--fg);font-weight:500;font-variant-numeric:tabular-nums}
.kv b.hot,span.over{color:var(--bad)} .kv .rate{color:var(--accent);margin-left:3px} .kv .bar{margin-left:4px}
.bar{display:inline-block;width:70px;height:7px;background:#0b1016;border:1px solid var(--line);border-radius:4px;
 vertical-align:middle;overflow:hidden}
.bar>i{display:block;height:100%;background:var(--accent)} .bar.warn>i{background:var(--warn)} .bar.bad>i{background:var(--bad)}
/* tables */
table{border-collapse:collapse;width:100%;font-size:12px}
th,td{padding:3px 8px;text-align:right;border-bottom:1px solid var(--line);white-space:nowrap}
th{color:var(--muted);font-weight:500;text-align:right} td:first-child,th:first-child{text-align:left}
td.l,th.l{text-align:left;white-space:normal;overflow-wrap:normal;word-break:normal} tr:last-child td{border-bottom:0}
td.metric{min-width:16em} td.err{color:var(--bad);max-width:40em}
td{font-variant-numeric:tabular-nums}
.tag{display:inline-block;white-space:nowrap;background:var(--panel2);border:1px solid var(--line);border-radius:4px;padding:0 5px;
 margin:1px 3px 1px 0}
/* stats charts */
.wide{grid-column:1/-1}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(270px,1fr));gap:10px}
.card{background:var(--panel2);border:1px solid var(--line);border-radius:6px;padding:7px 9px}
.card h3{margin:0 0 4px;font-size:13px;font-weight:600} .card h3 small{color:var(--muted);font-weight:400}
.row{display:grid;grid-template-columns:58px minmax(0,1fr) 86px;gap:6px;align-items:center;margin:2px 0}
.row .what{color:var(--muted);font-size:11px} .row .val{text-align:right;font-size:12px;font-variant-numeric:tabular-nums}
svg.spark{width:100%;height:30px;display:block;background:#0b1016;border-radius:3px}
svg.spark .line{fill:none;stroke-width:1.5}
.cpu .line{stroke:var(--cpu)} .cpu .area{fill:var(--cpu)} .mem .line{stroke:var(--mem)} .mem .area{fill:var(--mem)}
.rx .line{stroke:var(--rx)} .rx .area{fill:var(--rx)} .tx .line{stroke:var(--tx)} .tx .area{fill:var(--tx)}
svg.spark .area{opacity:.18}
h2.sub{margin-top:14px}
details summary{cursor:pointer;color:var(--muted)}
pre{background:#0b1016;border:1px solid var(--line);border-radius:6px;padding:8px;overflow:auto;max-height:360px;
 font-size:11px}
</style></head><body>
<header>
 <h1>ecs-otel sidecar</h1><span id="health" class="pill">loading…</span>
 <div class="meta"><span id="uptime"></span><span id="version"></span><span id="task"></span>
  <span id="process"></span><span id="stale"></span></div>
 <div class="meta"><a href="metrics">/metrics</a><a href="status.json">/status.json</a><a href="cardinality">/cardinality</a></div>
</header>
<section><h2>Pipeline · live counters, in items (spans, data points, log records)</h2>
 <div id="pipeline" class="muted">waiting for /status.json…</div>
 <p class="note" id="pipeline-note">Every count is in items, the unit of accounting: received = exported + dropped + queued
 per exporter. A processor's <b>in → out</b> differ only when it removes items: <b>folded</b> by cardinality means data
 points of series beyond a metric's limit were merged into that metric's single overflow series
 (<code>otel.metric.overflow=true</code>), so their values are kept in the totals but they leave as fewer points.
 Rates are per second over the last refresh.</p></section>
<section><h2>Senders · service and instance <span class="muted" id="senders-note"></span></h2><table id="senders"></table></section>
<section><h2>ECS task stats <span class="muted" id="stats-note"></span></h2><div id="stats" class="cards"></div></section>
<div class="grid2">
 <section><h2>Cardinality · top metrics by series</h2><div id="card-summary" class="muted"></div>
  <table id="cardinality"></table><div id="card-more" class="muted"></div></section>
 <section><h2>Drops by reason</h2><table id="drops"></table>
  <h2 class="sub">Processors · items and time per batch</h2><table id="processors"></table></section>
</div>
<section><h2>Exporters · destination, queue and last error (items)</h2><table id="queues"></table></section>
<section><h2>Receivers · items accepted <span class="muted" id="receivers-note"></span></h2><table id="receivers"></table></section>
<section><details><summary>Components (raw state)</summary><pre id="components"></pre></details></section>
<script>
"use strict";
const $=id=>document.getElementById(id);
function el(tag,text,cls,attrs){const e=document.createElement(tag); if(text!==undefined&&text!==null) e.textContent=String(text);
 if(cls) e.className=cls; if(attrs) for(const [k,v] of Object.entries(attrs)) e.setAttribute(k,String(v)); return e;}
function esc(s){return String(s).replace(/[&<>"']/g,c=>({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;","'":"&#39;"}[c]));}
function n(v){if(v==null||isNaN(v)) return "–"; const a=Math.abs(v);
 if(a>=1e9) return (v/1e9).toFixed(2)+"G"; if(a>=1e6) return (v/1e6).toFixed(2)+"M"; if(a>=1e4) return (v/1e3).toFixed(1)+"k";
 return Number.isInteger(v)?String(v):v.toFixed(2);}
function ms(v){if(v==null) return "–"; if(v===Infinity||v==="inf"||v==="Infinity") return ">30 s";
 return v<1?(v*1000).toFixed(v<0.01?1:0)+" ms":v.toFixed(1)+" s";}
function bytes(v){if(v==null) return "–"; const u=["B","KiB","MiB","GiB"]; let i=0; while(Math.abs(v)>=1024&&i<u.length-1){v/=1024;i++;}
 return (i?v.toFixed(1):Math.round(v))+" "+u[i];}
function dur(s){s=Math.floor(s); const d=Math.floor(s/86400),h=Math.floor(s%86400/3600),m=Math.floor(s%3600/60),x=s%60;
 return d?d+"d "+h+"h":h?h+"h "+m+"m":m?m+"m "+x+"s":x+"s";}
function dotted(text,attrs,cls){const s=el("span",null,cls,attrs); String(text).split(".").forEach((part,i)=>{
 if(i){s.appendChild(document.createTextNode(".")); s.appendChild(el("wbr"));} s.appendChild(document.createTextNode(part));}); return s;}
function sum(o){return Object.values(o||{}).reduce((a,b)=>a+b,0);}
function bar(f){const cls=f>=0.9?"bar bad":f>=0.6?"bar warn":"bar"; const b=el("span","",cls); const i=el("i");
 i.style.width=Math.min(100,Math.max(f>0?2:0,Math.round(f*100)))+"%"; b.appendChild(i); b.title=(f*100).toFixed(1)+"% full"; return b;}
// rates from successive polls
let prev={}, prevT=0, rates={};
function rate(key,value,now){const p=prev[key]; rates[key]=(p!=null&&now>prevT)?Math.max(0,(value-p)/((now-prevT)/1000)):null; prev[key]=value; return rates[key];}
function kv(label,value,opts){opts=opts||{}; const s=el("span","","kv"); s.appendChild(document.createTextNode(label+" "));
 const b=el("b",opts.text!==undefined?opts.text:n(value),opts.hot&&value>0?"hot":"",{"data-counter":opts.counter||label,"data-value":value});
 s.appendChild(b); if(opts.rate!=null&&opts.rate>0) s.appendChild(el("span",n(opts.rate)+"/s","rate")); if(opts.node) s.appendChild(opts.node); return s;}
function node(kind,name,signal,parts,extraCls){const d=el("div","", "node "+kind+(extraCls?" "+extraCls:""),
 {"data-stage":{rcv:"receiver",proc:"processor",exp:"exporter"}[kind],"data-name":name,"data-signal":signal});
 d.appendChild(el("div",name,"nname")); const k=el("div","","kvs"); parts.forEach(p=>k.appendChild(p)); d.appendChild(k); return d;}
function table(id,head,rows,empty){const t=$(id); t.replaceChildren(); const tr=el("tr");
 head.forEach(h=>{const th=el("th",h.replace(/^</,"")); if(h.startsWith("<")) th.className="l"; tr.appendChild(th);}); t.appendChild(tr);
 if(!rows.length&&empty){const r=el("tr"); const td=el("td",empty,"muted l"); td.colSpan=head.length; r.appendChild(td); t.appendChild(r);}
 rows.forEach(r=>{const row=el("tr"); r.forEach((c,i)=>{const td=el("td"); if(head[i].startsWith("<")) td.className="l";
  if(c instanceof Node) td.appendChild(c); else td.textContent=String(c); row.appendChild(td);}); t.appendChild(row);});}

function renderPipeline(s,now){
 const host=$("pipeline"); host.replaceChildren(); host.className="";
 const procOf={}; (s.processors||[]).forEach(p=>procOf[p.signal+"/"+p.processor]=p);
 const rcvOf={}; (s.receivers||[]).forEach(r=>rcvOf[r.signal+"/"+r.receiver]=r);
 const qOf={}; (s.queues||[]).forEach(q=>qOf[q.signal+"/"+q.exporter]=q);
 for(const [sig,line] of Object.entries(s.pipeline||{})){
  if(!host.childElementCount){const hd=el("div","","sig head"); ["","receivers · items accepted","","processors · items in → out","","exporters · items exported"]
   .forEach(t=>hd.appendChild(el("div",t))); host.appendChild(hd);}
  const row=el("div","","sig",{"data-signal":sig}); row.appendChild(el("div",sig,"label"));
  const rc=el("div","","col");
  (line.receivers||[]).forEach(name=>{const r=rcvOf[sig+"/"+name]||{accepted:0,refused:0};
   const acc=rate("r/"+sig+"/"+name,r.accepted,now);
   rc.appendChild(node("rcv",name,sig,[kv("accepted",r.accepted,{rate:acc}),kv("refused",r.refused,{hot:true})],
    r.accepted||r.refused?"":"idle"));});
  row.appendChild(rc); row.appendChild(el("div","→","arrow"));
  const pc=el("div","","chain");
  if(!(line.processors||[]).length) pc.appendChild(el("span","no processors","muted"));
  (line.processors||[]).forEach(name=>{const p=procOf[sig+"/"+name]||{batches:0,items_in:0,items_out:0,duration:{}};
   const inRate=rate("p/"+sig+"/"+name,p.items_in||0,now); const removed=Math.max(0,(p.items_in||0)-(p.items_out||0));
   const parts=[kv("in",p.items_in||0,{rate:inRate,counter:"items_in"}),kv("→ out",p.items_out||0,{counter:"items_out"})];
   if(removed) parts.push(kv(name==="cardinality"?"folded":"removed",removed,{counter:"folded"}));
   parts.push(kv("p99/batch",null,{text:ms(p.duration.p99),counter:"p99"}));
   pc.appendChild(node("proc",name,sig,parts,p.items_in?"":"idle"));});
  row.appendChild(pc); row.appendChild(el("div","→","arrow"));
  const ec=el("div","","col");
  if(!(line.exporters||[]).length) ec.appendChild(el("span","no exporter: data is discarded","muted"));
  (line.exporters||[]).forEach(name=>{const q=qOf[sig+"/"+name]; if(!q) return; const dropped=sum(q.dropped);
   const ex=rate("e/"+sig+"/"+name,q.exported,now);
   const nd=node("exp",name,sig,[kv("exported",q.exported,{rate:ex}),kv("dropped",dropped,{hot:true}),
    kv("queued",q.queued,{node:bar(q.fill||0)}),kv("p50",null,{text:ms(q.latency.p50),counter:"latency_p50"}),
    kv("p99",null,{text:ms(q.latency.p99),counter:"latency_p99"})],
    q.failed_persistently?"fail":(q.recent_failures?"warn":(q.received?"":"idle")));
   if(q.destination){const d=el("div","→ "+q.destination,"dest",{"data-destination":q.destination}); d.title=q.destination; nd.appendChild(d);}
   if(q.last_error) nd.appendChild(el("div","last error"+(q.last_error_age_s!=null?" ("+dur(q.last_error_age_s)+" ago)":"")+": "+q.last_error,"lasterr"));
   ec.appendChild(nd);});
  row.appendChild(ec); host.appendChild(row);}
}

const CHARTS=[["cpu_vcpu","CPU","cpu",v=>v.toFixed(v<0.1?3:2)+" vCPU"],["memory_mib","memory","mem",v=>v.toFixed(1)+" MiB"],
 ["network_rx_bps","net rx","rx",v=>bytes(v)+"/s"],["network_tx_bps","net tx","tx",v=>bytes(v)+"/s"]];
function spark(points,t0,t1,cls,fmt){
 const W=200,H=30,P=2; const nPts=points.length;
 let max=0; points.forEach(p=>{if(p[1]>max) max=p[1];}); const top=max>0?max*1.15:1; const span=Math.max(t1-t0,1e-9);
 const xy=points.map(p=>[(nPts<2?W-P:P+(p[0]-t0)/span*(W-2*P)),(H-P-(p[1]/top)*(H-2*P))]);
 const line=xy.map(q=>q[0].toFixed(1)+","+q[1].toFixed(1)).join(" ");
 let body="";
 if(nPts>=2){body='<path class="area" d="M'+xy[0][0].toFixed(1)+","+(H-P)+" L"+line.replace(/ /g," L")+" L"+xy[nPts-1][0].toFixed(1)+","+(H-P)+' Z"/>'+
  '<polyline class="line" vector-effect="non-scaling-stroke" points="'+line+'"/>';}
 else if(nPts===1){body='<circle class="line" cx="'+xy[0][0].toFixed(1)+'" cy="'+xy[0][1].toFixed(1)+'" r="1.5"/>';}
 const title=nPts?"max "+fmt(max)+" over "+dur(span)+" ("+nPts+" samples)":"no data";
 return '<svg class="spark '+cls+'" viewBox="0 0 '+W+" "+H+'" preserveAspectRatio="none" data-points="'+nPts+'"><title>'+esc(title)+"</title>"+body+"</svg>";}
function renderStats(h){
 const host=$("stats"); host.replaceChildren();
 const groups=(h&&h.groups)||[];
 $("stats-note").textContent=h?"· last "+h.samples+" samples"+(h.dropped_groups?" · "+h.dropped_groups+" containers not recorded (limit "+h.max_groups+")":""):"";
 if(!groups.length){host.appendChild(el("div","no ECS task stats yet (the ecs_stats scraper runs when ECS_CONTAINER_METADATA_URI_V4 is set)","muted wide")); return;}
 groups.forEach(g=>{const card=el("div","","card",{"data-group":g.name,"data-kind":g.kind});
  let t0=Infinity,t1=-Infinity; Object.values(g.series).forEach(ps=>ps.forEach(p=>{if(p[0]<t0)t0=p[0]; if(p[0]>t1)t1=p[0];}));
  const h3=el("h3",g.name); h3.appendChild(el("small"," · "+g.kind+(t1>t0?" · last "+dur(t1-t0):""))); card.appendChild(h3);
  CHARTS.forEach(([key,label,cls,fmt])=>{const ps=g.series[key]; if(!ps) return;
   const row=el("div","","row",{"data-series":key}); row.appendChild(el("span",label,"what"));
   const holder=el("div"); holder.innerHTML=spark(ps,t0,t1,cls,fmt); row.appendChild(holder);
   row.appendChild(el("span",ps.length?fmt(ps[ps.length-1][1]):"–","val")); card.appendChild(row);});
  host.appendChild(card);});
}
const CARD_ROWS=12;
function renderCardinality(c){
 if(!c){$("card-summary").textContent="no cardinality processor in the metrics chain"; $("cardinality").replaceChildren(); $("card-more").textContent=""; return;}
 $("card-summary").textContent=n(c.metrics_tracked)+" metrics · "+n(c.series_total)+" live series · limit "+n(c.limit)+
  " per metric · "+n(c.overflow_points_total)+" points folded into overflow series since start · dropped "+n(c.dropped_points_total);
 const top=(c.top||[]).slice(0,CARD_ROWS);
 $("card-more").textContent=(c.top||[]).length>CARD_ROWS?"+ "+((c.top||[]).length-CARD_ROWS)+" more in /cardinality":"";
 table("cardinality",["<metric","series / limit","overflow pts (live series)","<driving attributes"],top.map(t=>{
  const f=t.limit?t.series/t.limit:0; const cell=el("span"); cell.appendChild(el("b",n(t.series),"",{"data-value":t.series}));
  cell.appendChild(document.createTextNode(" / "+n(t.limit)+" ")); cell.appendChild(bar(f));
  const attrs=el("span"); (t.attributes||[]).forEach(a=>attrs.appendChild(el("span",a.key+" ("+a.distinct_values+")","tag")));
  if(!(t.attributes||[]).length) attrs.appendChild(el("span","no attributes","muted"));
  const name=dotted(t.metric,{"data-metric":t.metric},t.overflowing?"over":"");
  return [name,cell,t.overflow_points,attrs];}),"no metrics seen yet");
 $("cardinality").querySelectorAll("tr td:first-child").forEach(td=>td.classList.add("metric"));
}
function renderTables(s){
 table("drops",["<counter","<labels","count"],(s.drops||[]).map(d=>[d.counter,
  Object.entries(d.labels).filter(([,v])=>v!=="").map(([k,v])=>k+"="+v).join(" "),n(d.count)]),"nothing dropped or refused");
 table("queues",["exporter","signal","<destination","received","exported","dropped","queued","fill","retried","p50","p99",
  "fails/attempts (60 s)","<last error"],
  (s.queues||[]).map(q=>[q.exporter,q.signal,q.destination||"–",q.received,q.exported,sum(q.dropped),q.queued,bar(q.fill||0),q.retried,
   ms(q.latency.p50),ms(q.latency.p99),q.recent_failures+"/"+q.recent_attempts,
   q.last_error?el("span",q.last_error+(q.last_error_age_s!=null?" ("+dur(q.last_error_age_s)+" ago)":""),"err"):"none"]));
 const busy=(s.receivers||[]).filter(r=>r.accepted||r.refused||Object.keys(r.requests||{}).length);
 const idle=(s.receivers||[]).length-busy.length; $("receivers-note").textContent=idle?"· "+idle+" idle receiver/signal pairs hidden":"";
 table("receivers",["receiver","signal","items accepted","items refused","<requests by outcome"],busy.map(r=>[r.receiver,r.signal,
  r.accepted,r.refused,Object.entries(r.requests).map(([k,v])=>k+": "+v).join(", ")]),"no data received yet");
 table("processors",["processor","signal","items in","items out","batches","p50 / batch","p99 / batch"],
  (s.processors||[]).map(p=>[p.processor,p.signal,n(p.items_in||0),n(p.items_out||0),p.batches,
  ms(p.duration.p50),ms(p.duration.p99)]),"no processors");
 const sd=s.senders||{senders:[],evicted:0,max_senders:0};
 $("senders-note").textContent=(sd.max_senders?"· the "+sd.max_senders+" most recent":"")+(sd.evicted?" · "+sd.evicted+" older ones forgotten":"");
 table("senders",["<service","<instance","spans","data points","log records","last seen","first seen"],
  (sd.senders||[]).map(x=>[el("span",x.service,"",{"data-sender":x.service}),x.instance||"–",n(x.items.traces||0),n(x.items.metrics||0),
   n(x.items.logs||0),dur(x.last_seen_age_s)+" ago",dur(x.first_seen_age_s)+" ago"]),"no data received from an app yet");
}
let failures=0;
async function refresh(){
 let s; try{const r=await fetch("status.json",{cache:"no-store"}); if(!r.ok) throw new Error("HTTP "+r.status); s=await r.json(); failures=0; $("stale").textContent="";}
 catch(e){failures++; $("stale").textContent="status unavailable ("+(e.message||e)+"), showing the last data"; if(failures>2){const h=$("health"); h.className="pill bad"; h.textContent="unreachable";} return;}
 const now=Date.now();
 const h=$("health"); h.className="pill "+(s.health.healthy?"ok":"bad");
 h.textContent=s.health.healthy?"healthy":"unhealthy: "+s.health.reasons.join("; ");
 $("uptime").innerHTML="up <b>"+esc(dur(s.uptime_s))+"</b>"; $("uptime").setAttribute("data-value",s.uptime_s);
 $("version").innerHTML="version <b>"+esc(s.version)+"</b>"+(s.region?" · <b>"+esc(s.region)+"</b>":"");
 const ta=s.task_attributes||{}; const fam=ta["aws.ecs.task.family"]; const rev=ta["aws.ecs.task.revision"];
 $("task").innerHTML=fam?"task <b>"+esc(fam)+(rev?":"+esc(rev):"")+"</b>"+(ta["aws.ecs.launchtype"]?" · "+esc(ta["aws.ecs.launchtype"]):""):"";
 const p=s.process||{}; $("process").innerHTML="memory in use <b>"+esc(bytes(p.rss_bytes))+"</b> · queued for export <b>"+
  esc(bytes(p.queued_bytes))+"</b> of the <b>"+esc(bytes(p.memory_limit_bytes))+"</b> memory limit (receivers refuse data above it) · CPU <b>"+
  esc((p.cpu_seconds||0).toFixed(1))+" s</b>";
 renderPipeline(s,now); prevT=now;
 renderStats(s.history); renderCardinality(s.cardinality); renderTables(s);
 $("components").textContent=JSON.stringify(s.components,null,2);
}
refresh(); setInterval(refresh,2000);
</script></body></html>
"""
